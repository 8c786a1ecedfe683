{#- The P-sample: every person the post-enumeration survey found in its sampled enumeration
    areas, with the linkage keys (as the register's) and the post-stratum. Restricted. -#}
with lines as (
    select * from {{ ref('stg_landing__pes_person_lines') }}
),

households as (
    select submission_id, household_id, ea_code, substr(ea_code, 1, 9) as township_code,
           substr(ea_code, 1, 6) as county_code
    from {{ ref('stg_landing__pes_submissions') }}
),

items as (
    select
        l.submission_id || ':' || l.person_index as record_id,
        h.household_id,
        h.ea_code,
        h.township_code,
        h.county_code,
        l.person_name,
        case when l.id_number_is_valid then l.id_number end as valid_id,
        l.id_number,
        l.id_number_is_valid as has_valid_id,
        case when l.id_number_is_valid then {{ id_sex('l.id_number') }} else l.sex_reported end as sex,
        case when l.id_number_is_valid then {{ id_birth_date('l.id_number') }} end as birth_date,
        case when l.id_number_is_valid then cast(substr(l.id_number, 7, 4) as integer) else l.birth_year_reported end
            as birth_year,
        case when l.id_number_is_valid then cast(substr(l.id_number, 11, 2) as integer) else l.birth_month_reported end
            as birth_month,
        l.hukou_place
    from lines as l
    inner join households as h on h.submission_id = l.submission_id
),

final as (
    select
        i.record_id,
        i.household_id,
        i.ea_code,
        i.township_code,
        i.county_code,
        i.person_name as name,
        {{ name_keys('i', 'person_name') }},
        i.sex,
        i.birth_date,
        i.birth_year * 100 + i.birth_month as birth_ym,
        i.id_number,
        i.has_valid_id,
        i.has_valid_id as id_valid,
        {{ pes_post_stratum_columns('i.sex', '(' ~ age_at_standard_time('i.birth_year', 'i.birth_month') ~ ')',
                                    'i.hukou_place') }}
    from items as i
    left join {{ ref('pes_county_groups') }} as g on g.county_code = i.county_code
    {{ pinyin_joins('i', 'person_name') }}
)

select *, {{ pes_post_stratum_id() }} as post_stratum from final
