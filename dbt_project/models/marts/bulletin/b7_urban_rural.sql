{#- 公报 table 7: urban (城乡分类代码 starting with 1) and rural population. -#}
with counts as (
    {{ city_and_county_rows(ref('int_bulletin_persons'), {
        'urban': 'count(case when is_urban then 1 end)',
        'rural': 'count(case when not is_urban then 1 end)',
    }) }}
),

final as (
    select region_code, region_name, urban, rural, {{ rounded_ratio('urban', 'urban + rural', 100, 2) }} as urbanization_pct
    from counts
)

select * from final order by region_code
