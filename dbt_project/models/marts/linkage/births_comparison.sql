{#- Births: hospital birth records (出生医学证明) of 2019-11-01 .. 2020-10-31 by the hospital's
    county, against counted persons born in those months and the households' H4 counts. A census
    count below the register's is under-reporting of infants. One row per county and the city. -#}
with register as (
    select hospital_region_code as county_code, count(*) as n
    from {{ ref('stg_registers__births') }}
    where birth_date between date '2019-11-01' and date '2020-10-31'
    group by 1
),

census as (
    select county_code, count(*) as n
    from {{ ref('persons') }}
    where is_counted and birth_year * 100 + birth_month between 201911 and 202010
    group by 1
),

h4 as (
    select county_code, sum(coalesce(births_male, 0) + coalesce(births_female, 0)) as n
    from {{ ref('households') }}
    where household_type = '1'
    group by 1
),

counties as (
    select
        cast(r.code as varchar) as region_code, r.name_zh as region_name,
        coalesce(g.n, 0) as register_births, coalesce(c.n, 0) as census_births, coalesce(h.n, 0) as h4_births
    from {{ ref('regions') }} as r
    left join register as g on g.county_code = cast(r.code as varchar)
    left join census as c on c.county_code = cast(r.code as varchar)
    left join h4 as h on h.county_code = cast(r.code as varchar)
    where r.level <> 'city'
),

with_city as (
    select * from counties
    union all
    select '330100', '杭州市', sum(register_births), sum(census_births), sum(h4_births) from counties
),

final as (
    select
        *,
        {{ rounded_ratio('census_births', 'register_births', 100, 2) }} as census_to_register_pct,
        greatest(register_births - census_births, 0) as infants_possibly_missed
    from with_city
)

select * from final order by region_code
