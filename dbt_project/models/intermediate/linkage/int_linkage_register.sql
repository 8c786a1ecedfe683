{#- Household-registration records to link: the registrants of the omission rule (active, born
    before the standard time), with the keys that linkage compares. Restricted zone. -#}
with registrants as (
    select * from {{ ref('stg_registers__hukou_registrants') }}
    where is_active and birth_date < date '{{ var("standard_time") }}'
),

final as (
    select
        r.person_no as record_id,
        r.person_name as name,
        {{ name_keys('r', 'person_name') }},
        r.sex,
        r.birth_date,
        year(r.birth_date) * 100 + month(r.birth_date) as birth_ym,
        r.hukou_township_code as township_code,
        substr(r.hukou_township_code, 1, 6) as county_code,
        r.id_number,
        coalesce({{ is_valid_id_number('r.id_number') }}, false) as id_valid
    from registrants as r
    {{ pinyin_joins('r', 'person_name') }}
)

select * from final
