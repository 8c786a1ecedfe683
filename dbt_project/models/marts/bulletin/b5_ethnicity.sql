{#- 公报 table 5: Han and minority nationalities (every code other than 01 is a minority). -#}
with counts as (
    {{ city_and_county_rows(ref('int_bulletin_persons'), {
        'population': 'count(*)',
        'han': "count(case when ethnicity = '01' then 1 end)",
        'minority': "count(case when ethnicity <> '01' then 1 end)",
    }) }}
),

final as (
    select region_code, region_name, han, minority,
           {{ rounded_ratio('han', 'population', 100, 2) }} as pct_han,
           {{ rounded_ratio('minority', 'population', 100, 2) }} as pct_minority
    from counts
)

select * from final order by region_code
