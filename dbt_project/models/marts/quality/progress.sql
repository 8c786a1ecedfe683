{#- Enumeration progress (登记进度): one row per township and census day: households listed,
    households with a final submission by the end of that day (UTC+8), and pending ones. -#}
with frame as (
    select * from {{ ref('stg_landing__listing_frame') }}
),

submissions as (
    select * from {{ ref('stg_landing__household_submissions') }}
),

days as (
    {{ census_days() }}
),

first_final as (
    select household_id, min({{ local_date('Asia/Shanghai', 'submitted_at') }}) as final_on
    from submissions
    where status = 'final'
    group by household_id
),

listed as (
    select township_code, count(*) as listed_households from frame group by township_code
),

finals_by_day as (
    select substr(f.household_id, 2, 9) as township_code, f.final_on, count(*) as n
    from first_final as f
    inner join frame as l on l.household_id = f.household_id
    group by 1, 2
),

grid as (
    select l.township_code, l.listed_households, d.census_day
    from listed as l
    cross join days as d
),

final as (
    select
        g.township_code,
        substr(g.township_code, 1, 6) as county_code,
        g.census_day,
        g.listed_households,
        coalesce(sum(f.n), 0) as enumerated_final,
        g.listed_households - coalesce(sum(f.n), 0) as pending
    from grid as g
    left join finals_by_day as f on f.township_code = g.township_code and f.final_on <= g.census_day
    group by g.township_code, g.listed_households, g.census_day
)

select * from final order by township_code, census_day
