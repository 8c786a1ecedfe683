{#- 公报 table 6: 人户分离 and 流动人口 (outputs.md). Separated: living here, hukou in another
    township, away six months or more. Intra-city: living in a district with the hukou also in
    a district of the city. Floating = separated - intra-city. Inter-provincial: floating with a
    valid hukou_region_code outside Zhejiang; a missing or invalid code counts as within the
    province (flagged E16 in the microdata). -#}
with classified as (
    select
        *,
        is_hukou_separated and lives_in_district
            and (hukou_place = '3' or (hukou_place = '4' and hukou_in_city_district)) as is_intra_city
    from {{ ref('int_bulletin_persons') }}
),

counts as (
    {{ city_and_county_rows('classified', {
        'hukou_separated': 'count(case when is_hukou_separated then 1 end)',
        'intra_city_separated': 'count(case when is_intra_city then 1 end)',
        'inter_provincial_floating': "count(case when is_hukou_separated and not is_intra_city and hukou_place = '4' and hukou_region_is_valid and substr(hukou_region_code, 1, 2) <> '33' then 1 end)",
    }) }}
),

final as (
    select region_code, region_name, hukou_separated, intra_city_separated,
           hukou_separated - intra_city_separated as floating, inter_provincial_floating
    from counts
)

select * from final order by region_code
