{#- 公报 table 4: education. Rates per 100,000 of the whole resident population; average years
    of schooling over persons aged 15+; illiteracy as a share of the whole population (as the
    national communiqué does). -#}
with counts as (
    {{ city_and_county_rows(ref('int_bulletin_persons'), {
        'population': 'count(*)',
        'university': 'count(case when education between 6 and 9 then 1 end)',
        'high_school': 'count(case when education = 5 then 1 end)',
        'junior_secondary': 'count(case when education = 4 then 1 end)',
        'primary_school': 'count(case when education = 3 then 1 end)',
        'persons_15_plus': 'count(case when age >= 15 then 1 end)',
        'years_15_plus': 'sum(case when age >= 15 then case education when 3 then 6 when 4 then 9 when 5 then 12 when 6 then 15 when 7 then 16 when 8 then 19 when 9 then 22 else 0 end else 0 end)',
        'illiterate_15_plus': "count(case when age >= 15 and literate = '2' then 1 end)",
    }) }}
),

final as (
    select
        region_code,
        region_name,
        {{ rounded_ratio('university', 'population', 100000, 0) }} as university_per_100k,
        {{ rounded_ratio('high_school', 'population', 100000, 0) }} as high_school_per_100k,
        {{ rounded_ratio('junior_secondary', 'population', 100000, 0) }} as junior_secondary_per_100k,
        {{ rounded_ratio('primary_school', 'population', 100000, 0) }} as primary_per_100k,
        {{ rounded_ratio('years_15_plus', 'persons_15_plus', 1, 2) }} as avg_years_schooling_15_plus,
        illiterate_15_plus,
        {{ rounded_ratio('illiterate_15_plus', 'population', 100, 2) }} as illiteracy_pct
    from counts
)

select * from final order by region_code
