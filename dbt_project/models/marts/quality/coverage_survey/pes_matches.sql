{#- The post-enumeration survey's matching, de-identified: one row per PES person (P-sample),
    its enumeration area, post-stratum, and whether and how the census counted them (valid ID
    anywhere in the city, else probabilistic within the township). No names, no ID numbers. -#}
with pes as (
    select * from {{ ref('int_pes_persons') }}
),

matches as (
    select person_no as pes_record_id, census_record_id, 'id' as match_method, cast(null as double) as match_probability
    from {{ ref('int_pes_id_matches') }}
    union all
    select pes_record_id, census_record_id, 'probabilistic', match_probability
    from {{ ref('int_pes_probabilistic') }}
),

census as (
    select submission_id || ':' || person_index as record_id, household_id, ea_code
    from {{ ref('int_persons_edited') }}
),

final as (
    select
        p.record_id as pes_record_id,
        p.ea_code,
        p.county_code,
        p.county_group,
        p.ps_sex as sex,
        p.age_group,
        p.migrant_status,
        p.post_stratum,
        m.pes_record_id is not null as is_matched,
        coalesce(m.match_method, 'none') as match_method,
        m.match_probability,
        c.household_id as census_household_id,
        c.ea_code as census_ea_code
    from pes as p
    left join matches as m on m.pes_record_id = p.record_id
    left join census as c on c.record_id = m.census_record_id
)

select * from final
