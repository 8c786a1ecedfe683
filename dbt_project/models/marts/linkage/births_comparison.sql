{#- Births: hospital birth records (出生医学证明) of 2019-11-01 .. 2020-10-31 by the hospital's
    county, against counted persons born in those months and the households' H4 counts. A census
    count below the register's is under-reporting of infants. One row per county and the city. -#}
with register as (
    select hospital_region_code as county_code, count(*) as n
    from {{ ref('stg_registers__births') }}
    where birth_date between date '{{ var("census_year_start") }}' and date '{{ var("census_year_end") }}'
    group by 1
),

census as (
    select county_code, count(*) as n
    from {{ ref('persons') }}
    where is_counted and {{ born_in_census_year('birth_year', 'birth_month') }}
    group by 1
),

h4 as (
    select county_code, sum(coalesce(births_male, 0) + coalesce(births_female, 0)) as n
    from {{ ref('households') }}
    where household_type = '1'
    group by 1
),

with_city as (
    {{ county_and_city_counts({'register_births': 'register', 'census_births': 'census', 'h4_births': 'h4'}) }}
),

final as (
    select
        *,
        {{ rounded_ratio('census_births', 'register_births', 100, 2) }} as census_to_register_pct,
        greatest(register_births - census_births, 0) as infants_possibly_missed
    from with_city
)

select * from final order by region_code
