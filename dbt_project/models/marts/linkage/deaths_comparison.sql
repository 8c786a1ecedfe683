{#- Deaths: registered deaths of 2019-11-01 .. 2020-10-31 by county of residence, against the
    census death forms (死亡人口调查表) dated in that year and the households' H5 counts.
    One row per county and the city. -#}
with register as (
    select region_code as county_code, count(*) as n
    from {{ ref('stg_registers__deaths') }}
    where death_date between date '{{ var("census_year_start") }}' and date '{{ var("census_year_end") }}'
    group by 1
),

forms as (
    select h.county_code, count(*) as n
    from {{ ref('stg_landing__death_lines') }} as d
    inner join {{ ref('int_households_resolved') }} as h on h.submission_id = d.submission_id
    where d.death_ym between '{{ var("census_year_start")[:7] }}' and '{{ var("census_year_end")[:7] }}'
    group by 1
),

h5 as (
    select county_code, sum(coalesce(deaths_male, 0) + coalesce(deaths_female, 0)) as n
    from {{ ref('households') }}
    where household_type = '1'
    group by 1
),

with_city as (
    {{ county_and_city_counts({'register_deaths': 'register', 'census_death_forms': 'forms', 'h5_deaths': 'h5'}) }}
),

final as (
    select *, {{ rounded_ratio('census_death_forms', 'register_deaths', 100, 2) }} as census_to_register_pct
    from with_city
)

select * from final order by region_code
