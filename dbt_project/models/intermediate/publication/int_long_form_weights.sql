{#- Long-form (10% sample) weights, calibrated to the full count: the design weight (inverse
    selection probability) post-stratified to the counted population of each county x sex x age
    group, so that weighted totals equal the full-count totals cell by cell. A cell with fewer
    than var long_form_min_cell (5) sampled persons is collapsed (county x age group, then county, then the city).
    Replicate 0 is the full sample; replicates 1..G drop one group of EAs each (delete-a-group
    jackknife, groups by a hash of the EA code) and are re-calibrated the same way.
    One row per replicate and county x sex x age group with sampled persons: the weight each of
    its sampled persons carries. Every sampled person of a group carries the same weight, so the
    estimates (macro long_form_estimates) count persons per group and multiply, exactly, instead
    of carrying one row per person and replicate (24 M rows at Hangzhou's size). -#}
{%- set groups = var('jackknife_groups') -%}
{%- set min_cell = var('long_form_min_cell') -%}
with population as (
    select county_code, sex, {{ lf_age_group('age') }} as age_group, count(*) as n_population
    from {{ ref('int_bulletin_persons') }}
    group by 1, 2, 3
),

sample_groups as (  -- sampled counted persons per county x sex x age group and jackknife group
    select
        p.county_code, p.sex, {{ lf_age_group('p.age') }} as age_group,
        {{ long_form_jackknife_group('p.ea_code') }} as jackknife_group,
        count(*) as n_sampled
    from {{ ref('persons') }} as p
    where p.is_counted and p.is_long_form
    group by 1, 2, 3, 4
),

sample_cells as (
    select county_code, sex, age_group, sum(n_sampled) as n_fine from sample_groups group by 1, 2, 3
),

sample_county_age as (
    select county_code, age_group, sum(n_sampled) as n_county_age from sample_groups group by 1, 2
),

sample_county as (
    select county_code, sum(n_sampled) as n_county from sample_groups group by 1
),

cell_of as (
    select
        p.county_code, p.sex, p.age_group, p.n_population,
        case when coalesce(f.n_fine, 0) >= {{ min_cell }} then p.county_code || '|' || p.sex || '|' || p.age_group
             when coalesce(a.n_county_age, 0) >= {{ min_cell }} then p.county_code || '|*|' || p.age_group
             when coalesce(c.n_county, 0) >= {{ min_cell }} then p.county_code || '|*|*'
             else 'city' end as cell
    from population as p
    left join sample_cells as f on f.county_code = p.county_code and f.sex = p.sex and f.age_group = p.age_group
    left join sample_county_age as a on a.county_code = p.county_code and a.age_group = p.age_group
    left join sample_county as c on c.county_code = p.county_code
),

cell_totals as (
    select cell, sum(n_population) as n_population from cell_of group by cell
),

replicate_groups as (  -- replicate r keeps every jackknife group but r (replicate 0 keeps all)
    select s.county_code, s.sex, s.age_group, c.cell, r.replicate, sum(s.n_sampled) as n_sampled
    from sample_groups as s
    inner join cell_of as c on c.county_code = s.county_code and c.sex = s.sex and c.age_group = s.age_group
    cross join ({{ integer_rows(0, groups + 1, "replicate") }}) as r
    where r.replicate = 0 or s.jackknife_group <> r.replicate
    group by 1, 2, 3, 4, 5
),

replicate_cells as (
    select replicate, cell, sum(n_sampled) as n_sample from replicate_groups group by 1, 2
),

final as (
    select
        g.replicate,
        g.county_code,
        g.sex,
        g.age_group,
        g.cell,
        g.n_sampled as n_sampled_persons,
        cast(t.n_population as double) / rc.n_sample as weight
    from replicate_groups as g
    inner join replicate_cells as rc on rc.replicate = g.replicate and rc.cell = g.cell
    inner join cell_totals as t on t.cell = g.cell
)

select * from final
