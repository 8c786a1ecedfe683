{#- Omissions (不漏, rules.md): every active household-registration record of the city, born
    before the standard time, looked for in the census (every person line of an authoritative
    submission): on the valid ID number, then on name + sex + birth date (the exact date where
    the census line has a valid ID, else its birth month). One row per registrant. -#}
with registrants as (
    select * from {{ ref('stg_registers__hukou_registrants') }}
    where is_active and birth_date < date '{{ var("standard_time") }}'
),

census as (
    select * from {{ ref('int_persons_edited') }}
),

census_ids as (
    select id_number, min(case when is_counted then township_code end) as counted_township_code
    from census where has_valid_id
    group by id_number
),

census_name_dates as (
    select distinct person_name, sex, birth_date_from_id as birth_date from census where has_valid_id
),

census_name_months as (
    select distinct person_name, sex, birth_year, birth_month from census where not has_valid_id
),

final as (
    select
        r.person_no,
        r.id_number,
        r.hukou_township_code,
        substr(r.hukou_township_code, 1, 6) as hukou_county_code,
        i.id_number is not null as found_by_id,
        i.id_number is null and (d.person_name is not null or m.person_name is not null) as found_by_name_sex_birth,
        i.id_number is not null or d.person_name is not null or m.person_name is not null as is_found,
        i.counted_township_code
    from registrants as r
    left join census_ids as i on i.id_number = r.id_number
    left join census_name_dates as d
        on d.person_name = r.person_name and d.sex = r.sex and d.birth_date = r.birth_date
    left join census_name_months as m
        on m.person_name = r.person_name and m.sex = r.sex
       and m.birth_year = year(r.birth_date) and m.birth_month = month(r.birth_date)
)

select * from final
