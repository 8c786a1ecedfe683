{#- The counted resident population with what the bulletin tables classify (outputs.md):
    one row per counted person, no names, no ID numbers. -#}
with persons as (
    select * from {{ ref('persons') }}
    where is_counted
),

counties as (  -- the city's counties and county-level cities: the divisions that are not districts
    select cast(code as {{ text_type() }}) as county_code from {{ ref('regions') }}
    where level in ('county', 'county-level city')
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
        county_code not in (select county_code from counties) as lives_in_district,
        {{ is_valid_hukou_region('hukou_region_code') }} as hukou_region_is_valid
    from persons
),

final as (
    select
        *,
        residence = '1' and hukou_place in ('3', '4') and cast(left_hukou_duration as integer) >= 3 as is_hukou_separated,
        hukou_region_is_valid and substr(hukou_region_code, 1, 4) = '{{ city_prefix() }}'
            and hukou_region_code not in (select county_code from counties)
            and hukou_region_code <> '{{ var('city_code') }}' as hukou_in_city_district
    from classified
)

select * from final
