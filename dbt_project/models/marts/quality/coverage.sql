{#- Coverage (不重不漏): one row per county of codes/regions.csv and one for the city. -#}
with regions as (
    select cast(code as {{ text_type() }}) as region_code, name_zh as region_name, level from {{ ref('regions') }}
),

frame as (
    select * from {{ ref('stg_landing__listing_frame') }}
),

submissions as (
    select distinct household_id from {{ ref('stg_landing__household_submissions') }}
),

households as (
    select * from {{ ref('households') }}
),

persons as (
    select * from {{ ref('persons') }}
),

registrants as (
    select * from {{ ref('int_registrants_matched') }}
),

by_county as (
    select county_code as region_code, 'listed_households' as measure, count(*) as n from frame group by 1
    union all
    select county_code, 'enumerated_households', count(*) from households group by 1
    union all
    select f.county_code, 'missing_households', count(*)
    from frame as f left join submissions as s on s.household_id = f.household_id
    where s.household_id is null group by 1
    union all
    select county_code, 'persons_counted', count(*) from persons where is_counted group by 1
    union all
    select county_code, 'duplicates_removed', count(*) from persons where is_duplicate_removed group by 1
    union all
    select hukou_county_code, 'register_persons_not_found', count(*) from registrants where not is_found group by 1
),

counties as (
    select
        r.region_code,
        r.region_name,
        {% for m in ['listed_households', 'enumerated_households', 'missing_households', 'persons_counted',
                     'duplicates_removed', 'register_persons_not_found'] -%}
        coalesce(sum(case when b.measure = '{{ m }}' then b.n end), 0) as {{ m }}{{ "," if not loop.last }}
        {% endfor %}
    from regions as r
    left join by_county as b on b.region_code = r.region_code
    where r.level <> 'city'
    group by r.region_code, r.region_name
),

city as (
    select
        r.region_code,
        r.region_name,
        sum(c.listed_households) as listed_households,
        sum(c.enumerated_households) as enumerated_households,
        sum(c.missing_households) as missing_households,
        sum(c.persons_counted) as persons_counted,
        sum(c.duplicates_removed) as duplicates_removed,
        sum(c.register_persons_not_found) as register_persons_not_found
    from counties as c
    cross join (select * from regions where level = 'city') as r
    group by r.region_code, r.region_name
),

final as (
    select * from city
    union all
    select * from counties
)

select * from final order by region_code
