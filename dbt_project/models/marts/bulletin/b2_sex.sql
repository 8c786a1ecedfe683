{#- 公报 table 2: sex composition; sex_ratio is males per 100 females. -#}
with counts as (
    {{ city_and_county_rows(ref('int_bulletin_persons'), {
        'male': "count(case when sex = '1' then 1 end)",
        'female': "count(case when sex = '2' then 1 end)",
    }) }}
),

final as (
    select region_code, region_name, male, female, {{ rounded_ratio('male', 'female', 100, 2) }} as sex_ratio
    from counts
)

select * from final order by region_code
