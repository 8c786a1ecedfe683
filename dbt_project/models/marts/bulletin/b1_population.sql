{#- 公报 table 1: resident population and households. A household counts when at least one of
    its persons counts; its size is the number of its persons who count. -#}
with counts as (
    {{ city_and_county_rows(ref('int_bulletin_persons'), {
        'population': 'count(*)',
        'family_households': "count(distinct case when household_type = '1' then household_id end)",
        'family_household_population': "count(case when household_type = '1' then 1 end)",
        'collective_households': "count(distinct case when household_type = '2' then household_id end)",
        'collective_household_population': "count(case when household_type = '2' then 1 end)",
    }) }}
),

city as (
    select population as city_population from counts where region_code = '{{ var('city_code') }}'
),

final as (
    select
        region_code,
        region_name,
        population,
        {{ rounded_ratio('population', 'city_population', 100, 2) }} as share_of_city_pct,
        family_households,
        family_household_population,
        collective_households,
        collective_household_population,
        {{ rounded_ratio('family_household_population', 'family_households', 1, 2) }} as avg_family_household_size
    from counts
    cross join city
)

select * from final order by region_code
