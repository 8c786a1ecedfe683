{#- City population by sex and five-year age group (85+ together), for the population pyramid.
    City level only (a chart drawn from b2/b3 at city level: no small-count protection needed). -#}
with persons as (
    select * from {{ ref('int_bulletin_persons') }}
),

final as (
    select
        least({{ int_div('age', '5') }} * 5, 85) as age_group_start,
        count(case when sex = '1' then 1 end) as male,
        count(case when sex = '2' then 1 end) as female
    from persons
    group by 1
)

select * from final order by age_group_start
