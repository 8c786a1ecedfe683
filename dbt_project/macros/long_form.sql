{% macro long_form_jackknife_group(ea_code) -%}
    1 + {{ stable_hash(ea_code ~ " || 'jackknife'") }} % {{ var('jackknife_groups') }}
{%- endmacro %}

{% macro lf_age_group(age) -%}
    case when {{ age }} < 15 then '0-14' when {{ age }} < 60 then '15-59' else '60+' end
{%- endmacro %}

{#- Weighted estimates from the long-form sample, with delete-a-group jackknife standard errors
    and 95% intervals, for the city and each county: the estimated number of persons in each
    category among the `universe`, and its share of the universe.
    var_jk = (G-1)/G * sum_r (theta_r - theta_0)^2.
    Weights are summed as decimals: a sum of doubles depends on the order DuckDB's threads add
    them in, and a published estimate or interval must not change from one run to the next
    (seen: one cell of lf_employment one person apart between two runs of the same census).
    A weight is a decimal(20, 12) (up to 10^8) and a count a decimal(10, 0), so that their product
    keeps its 12 places on Spark too: Spark gives a product wider than 38 digits 6 places only,
    and a decimal(38, 12) times a bigint lost them (seen: 3 x 18.833333333333 = 56.499999999999
    published as 56 by DuckDB, and as 57 by Spark from 56.500000). -#}
{% macro long_form_estimates(universe, category, category_label_relation=none) %}
{%- set groups = var('jackknife_groups') -%}
with sampled as (  -- sampled counted persons of the universe, per weighting group and category
    select
        county_code, sex, {{ lf_age_group('age') }} as age_group,
        {{ long_form_jackknife_group('ea_code') }} as jackknife_group,
        {{ category }} as category,
        count(*) as n_persons
    from {{ ref('persons') }}
    where is_counted and is_long_form and ({{ universe }})
    group by 1, 2, 3, 4, 5
),

weighted as (  -- each replicate's weight times its persons: the same decimal sum as person by person
    select w.replicate, s.county_code, s.category,
           cast(w.weight as decimal(20, 12)) * cast(s.n_persons as decimal(10, 0)) as weight
    from sampled as s
    inner join {{ ref('int_long_form_weights') }} as w
        on w.county_code = s.county_code and w.sex = s.sex and w.age_group = s.age_group
       and (w.replicate = 0 or w.replicate <> s.jackknife_group)
),

by_region as (
    select replicate, county_code as region_code, category, weight from weighted
    union all
    select replicate, '{{ var('city_code') }}', category, weight from weighted
),

replicate_estimates as (
    select
        replicate, region_code, category,
        sum(weight) as estimate,
        {{ decimal_ratio("sum(weight) * 100.0", "sum(sum(weight)) over (partition by replicate, region_code)") }} as pct
    from by_region
    where category is not null
    group by 1, 2, 3
),

full_sample as (
    select region_code, category, estimate, pct from replicate_estimates where replicate = 0
),

grid as (  -- a category missing from a replicate is an estimate of 0 there
    select f.region_code, f.category, r.replicate
    from full_sample as f
    cross join ({{ integer_rows(1, groups + 1, "replicate") }}) as r
),

variances as (
    select
        g.region_code, g.category,
        ({{ groups }} - 1.0) / {{ groups }}
            * sum(cast(power(coalesce(e.estimate, 0) - f.estimate, 2) as decimal(38, 12))) as var_estimate,
        ({{ groups }} - 1.0) / {{ groups }}
            * sum(cast(power(coalesce(e.pct, 0) - f.pct, 2) as decimal(38, 12))) as var_pct
    from grid as g
    inner join full_sample as f on f.region_code = g.region_code and f.category = g.category
    left join replicate_estimates as e
        on e.region_code = g.region_code and e.category = g.category and e.replicate = g.replicate
    group by 1, 2
),

final as (
    select
        f.region_code,
        r.name_zh as region_name,
        f.category,
        cast(round(f.estimate) as bigint) as estimate,
        round(sqrt(v.var_estimate), 1) as se,
        cast(round(greatest(f.estimate - {{ var('ci95_z') }} * sqrt(v.var_estimate), 0)) as bigint) as ci95_low,
        cast(round(f.estimate + {{ var('ci95_z') }} * sqrt(v.var_estimate)) as bigint) as ci95_high,
        round(f.pct, 2) as pct,
        round(sqrt(v.var_pct), 2) as pct_se,
        round(greatest(f.pct - {{ var('ci95_z') }} * sqrt(v.var_pct), 0), 2) as pct_ci95_low,
        round(least(f.pct + {{ var('ci95_z') }} * sqrt(v.var_pct), 100), 2) as pct_ci95_high
    from full_sample as f
    inner join variances as v on v.region_code = f.region_code and v.category = f.category
    inner join {{ ref('regions') }} as r on cast(r.code as {{ text_type() }}) = f.region_code
)

select * from final order by region_code, category
{% endmacro %}
