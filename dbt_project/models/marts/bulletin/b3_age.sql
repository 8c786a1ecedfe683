{#- 公报 table 3: age composition (completed years at the standard time); 65+ is part of 60+. -#}
with counts as (
    {{ city_and_county_rows(ref('int_bulletin_persons'), {
        'population': 'count(*)',
        'age_0_14': 'count(case when age <= 14 then 1 end)',
        'age_15_59': 'count(case when age between 15 and 59 then 1 end)',
        'age_60_plus': 'count(case when age >= 60 then 1 end)',
        'age_65_plus': 'count(case when age >= 65 then 1 end)',
    }) }}
),

final as (
    select
        region_code, region_name, age_0_14, age_15_59, age_60_plus, age_65_plus,
        {% for g in ['0_14', '15_59', '60_plus', '65_plus'] -%}
        {{ rounded_ratio('age_' ~ g, 'population', 100, 2) }} as pct_{{ g }}{{ "," if not loop.last }}
        {% endfor %}
    from counts
)

select * from final order by region_code
