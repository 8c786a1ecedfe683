{#- Township-level table (乡镇街道): population, households and sex, below the county level and
    so protected by cell-key perturbation (rules.md, Confidentiality; macro cell_key_perturb):
    no cell of 1 to 4 is published, and population = male + female of the published cells.
    One row per township with counted persons. -#}
with persons as (
    select township_code, county_code, sex, household_id, {{ record_key('person_key') }} as rkey
    from {{ ref('persons') }}
    where is_counted
),

households as (
    select township_code, household_id, {{ record_key('household_id') }} as rkey
    from {{ ref('households') }}
    where is_counted
),

person_cells as (
    select
        township_code,
        min(county_code) as county_code,
        count(case when sex = '1' then 1 end) as male_true,
        sum(case when sex = '1' then rkey else 0 end) % 256 as male_key,
        count(case when sex = '2' then 1 end) as female_true,
        sum(case when sex = '2' then rkey else 0 end) % 256 as female_key
    from persons
    group by township_code
),

household_cells as (
    select township_code, count(*) as households_true, sum(rkey) % 256 as households_key
    from households
    group by township_code
),

published as (
    select
        p.township_code,
        p.county_code,
        {{ cell_key_perturb('p.male_true', 'p.male_key') }} as male,
        {{ cell_key_perturb('p.female_true', 'p.female_key') }} as female,
        {{ cell_key_perturb('coalesce(h.households_true, 0)', 'coalesce(h.households_key, 0)') }} as households
    from person_cells as p
    left join household_cells as h on h.township_code = p.township_code
),

final as (
    select
        township_code as region_code,
        r.name_zh || ' 乡镇街道' || substr(township_code, 7, 3) as region_name,
        county_code,
        male + female as population,
        households,
        male,
        female
    from published
    inner join {{ ref('regions') }} as r on cast(r.code as {{ text_type() }}) = county_code
)

select * from final order by region_code
