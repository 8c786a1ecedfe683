{#- The counted resident population with what the bulletin tables classify (outputs.md):
    one row per counted person, no names, no ID numbers. -#}
with persons as (
    select * from {{ ref('persons') }}
    where is_counted
),

regions as (
    select cast(code as varchar) as code from {{ ref('regions') }}
),

classified as (
    select
        county_code,
        household_id,
        household_type,
        sex,
        age,
        is_urban,
        ethnicity,
        cast(education as integer) as education,
        literate,
        residence,
        hukou_place,
        hukou_region_code,
        left_hukou_duration,
        county_code not in ('330122', '330127', '330182') as lives_in_district,
        {#- a valid hukou_region_code (rules.md, Codes) -#}
        coalesce({{ regex_full_match('hukou_region_code', '[0-9]{6}') }}
            and substr(hukou_region_code, 1, 2) in (select cast(code as varchar) from {{ ref('provinces') }})
            and (substr(hukou_region_code, 1, 4) <> '3301' or hukou_region_code in (select code from regions)
                 or hukou_region_code in ('330103', '330104')), false) as hukou_region_is_valid
    from persons
),

final as (
    select
        *,
        residence = '1' and hukou_place in ('3', '4') and cast(left_hukou_duration as integer) >= 3 as is_hukou_separated,
        hukou_region_is_valid and substr(hukou_region_code, 1, 4) = '3301'
            and hukou_region_code not in ('330122', '330127', '330182', '330100') as hukou_in_city_district
    from classified
)

select * from final
