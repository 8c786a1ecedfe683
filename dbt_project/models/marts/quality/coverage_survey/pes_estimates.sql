{#- Dual-system estimation (DSE) of the population from the census and the post-enumeration
    survey, per post-stratum (county group x sex x age group x migrant status), county (synthetic:
    each county's counted persons x its post-strata's factors), county group and city.

    DSE = census correct enumerations x PES total / matches, in each estimation cell. The census's
    erroneous enumerations (duplicates, persons born after the standard time, persons who count
    elsewhere) are identified by the processing rules for every record, so the correct
    enumerations are known city-wide: they are the persons counted. The E-sample (census records
    in the sampled EAs) shows the correct-enumeration rate; the P-sample (PES persons) gives the
    match rate, its totals weighted by the inverse EA sampling fraction of their stratum (county
    x urban/rural). Net omission rate = (DSE - persons counted) / DSE. A post-stratum with fewer
    than {{ var('pes_min_cell') }} matches takes its county group's factor (then the city's).
    Standard errors: stratified delete-one-EA jackknife over the sampled EAs
    (var = sum over EAs of (n_h - 1) / n_h x (estimate without the EA - estimate)^2); 95%
    intervals = estimate +/- 1.96 SE. Counts and rates only: analysis zone. -#}
{% set min_cell = var('pes_min_cell') %}
with p_sample as (
    select ea_code, post_stratum, county_group, case when is_matched then 1 else 0 end as matched
    from {{ ref('pes_matches') }}
),

e_sample as (
    select ea_code, post_stratum, county_group, case when is_correct then 1 else 0 end as correct
    from {{ ref('int_pes_census') }}
    where in_sample
),

census_cells as (
    select post_stratum, county_group, county_code, count(*) as records,
           count(case when is_correct then 1 end) as counted
    from {{ ref('int_pes_census') }}
    group by post_stratum, county_group, county_code
),

frame_eas as (
    select ea_code, min(substr(urban_rural_code, 1, 1)) as urban_rural
    from (select ea_code, urban_rural_code from {{ ref('stg_landing__listing_frame') }}
          union all
          select ea_code, urban_rural_code from {{ ref('households') }}) as x
    group by ea_code
),

sampled as (
    select distinct ea_code from {{ ref('stg_landing__pes_submissions') }}
),

eas as (
    select f.ea_code, substr(f.ea_code, 1, 6) || '-' || coalesce(f.urban_rural, '2') as stratum,
           s.ea_code is not null as is_sampled
    from frame_eas as f
    left join sampled as s on s.ea_code = f.ea_code
),

strata as (
    select stratum, count(*) as n_eas, count(case when is_sampled then 1 end) as n_sampled
    from eas group by stratum
),

sample_eas as (
    select e.ea_code, e.stratum, cast(s.n_eas as double) / s.n_sampled as weight, s.n_sampled
    from eas as e
    inner join strata as s on s.stratum = e.stratum
    where e.is_sampled
),

per_ea as (  -- unweighted P-sample, matches, E-sample and correct enumerations per EA and post-stratum
    select ea_code, post_stratum, county_group,
           sum(p) as p, sum(m) as m, sum(e) as e, sum(ce) as ce
    from (select ea_code, post_stratum, county_group, 1 as p, matched as m, 0 as e, 0 as ce from p_sample
          union all
          select ea_code, post_stratum, county_group, 0, 0, 1, correct from e_sample) as x
    group by ea_code, post_stratum, county_group
),

ea_cell as (  -- the same at the three levels a cell can take: post-stratum, county group, city
    select ea_code, post_stratum as cell, p, m, e, ce from per_ea
    union all
    select ea_code, 'pooled|' || county_group, sum(p), sum(m), sum(e), sum(ce) from per_ea group by ea_code, county_group
    union all
    select ea_code, 'city', sum(p), sum(m), sum(e), sum(ce) from per_ea group by ea_code
),

sample_sizes as (
    select cell, sum(m) as m, sum(e) as e from ea_cell group by cell
),

cell_of as (  -- the estimation cell of each post-stratum: itself if big enough, else pooled
    select
        k.post_stratum,
        case when coalesce(t.m, 0) >= {{ min_cell }} then k.post_stratum
             when coalesce(g.m, 0) >= {{ min_cell }} then 'pooled|' || k.county_group
             else 'city' end as cell
    from (select distinct post_stratum, county_group from census_cells) as k
    left join sample_sizes as t on t.cell = k.post_stratum
    left join sample_sizes as g on g.cell = 'pooled|' || k.county_group
),

cells as (
    select distinct cell from cell_of
),

full_sample as (
    select x.cell, sum(w.weight * x.p) as p, sum(w.weight * x.m) as m, sum(w.weight * x.e) as e,
           sum(w.weight * x.ce) as ce
    from ea_cell as x
    inner join sample_eas as w on w.ea_code = x.ea_code
    group by x.cell
),

stratum_sums as (
    select w.stratum, x.cell, sum(x.p) as p, sum(x.m) as m, sum(x.e) as e, sum(x.ce) as ce
    from ea_cell as x
    inner join sample_eas as w on w.ea_code = x.ea_code
    group by w.stratum, x.cell
),

replicates as (  -- one per sampled EA of a stratum with two or more sampled EAs
    select ea_code as replicate, stratum, weight, n_sampled from sample_eas where n_sampled >= 2
),

replicate_cells as (  -- the totals without EA r, its stratum's other EAs weighted up by n / (n - 1)
    select
        r.replicate,
        c.cell,
        {% for x in ['p', 'm', 'e', 'ce'] %}
        f.{{ x }} - r.weight * coalesce(x.{{ x }}, 0)
            + r.weight / (r.n_sampled - 1) * (coalesce(s.{{ x }}, 0) - coalesce(x.{{ x }}, 0))
            as {{ x }}{{ "," if not loop.last }}
        {% endfor %}
    from replicates as r
    cross join cells as c
    inner join full_sample as f on f.cell = c.cell
    left join ea_cell as x on x.ea_code = r.replicate and x.cell = c.cell
    left join stratum_sums as s on s.stratum = r.stratum and s.cell = c.cell
),

factors as (
    select replicate, cell, p / nullif(m, 0) as coverage_factor
    from (select 'full' as replicate, cell, p, m, e, ce from full_sample
          union all
          select replicate, cell, p, m, e, ce from replicate_cells) as x
),

dse_parts as (
    select f.replicate, k.post_stratum, k.county_group, k.county_code, k.counted,
           k.counted * f.coverage_factor as dse
    from census_cells as k
    inner join cell_of as c on c.post_stratum = k.post_stratum
    inner join factors as f on f.cell = c.cell
),

levels as (
    select replicate, 'city' as level, '{{ var('city_code') }}' as region_or_stratum, sum(counted) as counted, sum(dse) as dse
    from dse_parts group by replicate
    union all
    select replicate, 'county_group', county_group, sum(counted), sum(dse) from dse_parts group by replicate, county_group
    union all
    select replicate, 'county', county_code, sum(counted), sum(dse) from dse_parts group by replicate, county_code
    union all
    select replicate, 'post_stratum', post_stratum, sum(counted), sum(dse) from dse_parts group by replicate, post_stratum
),

estimates as (
    select *, (dse - counted) / nullif(dse, 0) as net_omission from levels
),

jackknife as (
    select
        e.level, e.region_or_stratum,
        sum((r.n_sampled - 1.0) / r.n_sampled * power(e.net_omission - f.net_omission, 2)) as var_rate,
        sum((r.n_sampled - 1.0) / r.n_sampled * power(e.dse - f.dse, 2)) as var_dse,
        count(*) as replicates
    from estimates as e
    inner join replicates as r on r.replicate = e.replicate
    inner join estimates as f
        on f.replicate = 'full' and f.level = e.level and f.region_or_stratum = e.region_or_stratum
    group by e.level, e.region_or_stratum
),

all_rows as (  -- every level and post-stratum, with or without a PES behind it
    select 'city' as level, '{{ var('city_code') }}' as region_or_stratum, sum(counted) as counted from census_cells
    union all select 'county_group', county_group, sum(counted) from census_cells group by county_group
    union all select 'county', county_code, sum(counted) from census_cells group by county_code
    union all select 'post_stratum', post_stratum, sum(counted) from census_cells group by post_stratum
),

sample_rows as (
    select 'city' as level, '{{ var('city_code') }}' as region_or_stratum, sum(p) as p, sum(m) as m, sum(e) as e, sum(ce) as ce
    from per_ea
    union all select 'county_group', county_group, sum(p), sum(m), sum(e), sum(ce) from per_ea group by county_group
    union all select 'county', substr(ea_code, 1, 6), sum(p), sum(m), sum(e), sum(ce) from per_ea group by substr(ea_code, 1, 6)
    union all select 'post_stratum', post_stratum, sum(p), sum(m), sum(e), sum(ce) from per_ea group by post_stratum
),

final as (
    select
        a.level,
        a.region_or_stratum,
        case a.level when 'city' then 1 when 'county_group' then 2 when 'county' then 3 else 4 end as level_order,
        c.cell as estimation_cell,
        a.counted as census_count,
        coalesce(s.p, 0) as p_sample_persons,
        coalesce(s.m, 0) as p_sample_matched,
        coalesce(s.e, 0) as e_sample_records,
        coalesce(s.ce, 0) as e_sample_correct,
        round({{ decimal_ratio('100.0 * s.m', 'nullif(s.p, 0)') }}, 3) as match_rate_pct,
        round({{ decimal_ratio('100.0 * s.ce', 'nullif(s.e, 0)') }}, 3) as correct_enumeration_pct,
        round(f.dse, 0) as dse,
        round({{ var('ci95_z') }} * sqrt(j.var_dse), 0) as dse_ci_half_width,
        round(100 * f.net_omission, 4) as net_omission_pct,
        round(100 * sqrt(j.var_rate), 4) as net_omission_se_pct,
        round(100 * (f.net_omission - {{ var('ci95_z') }} * sqrt(j.var_rate)), 4) as ci_low_pct,
        round(100 * (f.net_omission + {{ var('ci95_z') }} * sqrt(j.var_rate)), 4) as ci_high_pct,
        coalesce(j.replicates, 0) as jackknife_replicates
    from all_rows as a
    left join estimates as f
        on f.replicate = 'full' and f.level = a.level and f.region_or_stratum = a.region_or_stratum
    left join jackknife as j on j.level = a.level and j.region_or_stratum = a.region_or_stratum
    left join sample_rows as s on s.level = a.level and s.region_or_stratum = a.region_or_stratum
    left join cell_of as c on a.level = 'post_stratum' and c.post_stratum = a.region_or_stratum
)

select * from final order by level_order, region_or_stratum
