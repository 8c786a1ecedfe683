{#- The census side of the coverage survey. `in_sample`: the E-sample, every census record
    (authoritative person line) in a sampled EA; `is_correct`: a correct enumeration (counted
    here; duplicates removed, persons born after the standard time and persons who count
    elsewhere are erroneous). Every record carries its post-stratum, for the census counts. -#}
with persons as (
    select * from {{ ref('int_persons_edited') }}
),

sampled_eas as (
    select distinct ea_code from {{ ref('stg_landing__pes_submissions') }}
),

final as (
    select
        p.submission_id || ':' || p.person_index as record_id,
        p.ea_code,
        p.county_code,
        p.ea_code in (select ea_code from sampled_eas) as in_sample,
        coalesce(p.is_counted, false) as is_correct,
        {{ pes_post_stratum_columns('p.sex', 'p.age', 'p.hukou_place') }}
    from persons as p
    left join {{ ref('pes_county_groups') }} as g on g.county_code = p.county_code
)

select *, {{ pes_post_stratum_id() }} as post_stratum from final
