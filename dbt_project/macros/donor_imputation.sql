{#- Donor imputation in the spirit of CANCEIS: each recipient takes the values of one donor
    from its own imputation cell (e.g. same township, sex and age band), falling back to
    coarser cells (county, then city) when its cell has no donor. Within a cell the donor is
    chosen by a seeded hash of the recipient, so a rerun with the same seed gives the same
    donors, and donors are drawn in proportion to how common each value is (distributions are
    kept). Set-based: one window and one equi-join per level, no pairwise distances.

    The levels cascade: a level ranks only the donor pools of cells that hold a recipient the
    finer levels left without a donor, so the coarse levels cost almost nothing and the work
    grows with the recipients, not with the census times the number of levels. A donor's rank
    is taken within its whole cell, so the donor chosen is the same as ranking every cell.

    Returns a select of (uid, <values>, donor_level): one row per recipient that found a donor. -#}
{% macro donor_imputation(relation, uid, values, recipient_where, donor_where, cell_levels, item) %}
    {{ return(adapter.dispatch('donor_imputation', 'census')(relation, uid, values, recipient_where, donor_where,
                                                            cell_levels, item)) }}
{% endmacro %}

{% macro default__donor_imputation(relation, uid, values, recipient_where, donor_where, cell_levels, item) %}
    {{ return(donor_imputation_sql(relation, uid, values, recipient_where, donor_where, cell_levels, item, true)) }}
{% endmacro %}

{#- Spark: the same donors, without the cascade. Spark inlines a CTE into every reader, and the
    cascade reads each level's recipients three times, so its plan grows as 3^levels and the
    imputations chained in int_person_edit_items compound it (a 300-household census: minutes of
    planning for one model). Here every recipient is matched at every level against the donor
    pools of its own cells, and the finest level that found a donor wins: what the cascade
    computes, since a donor's rank is taken within its whole cell either way. -#}
{% macro spark__donor_imputation(relation, uid, values, recipient_where, donor_where, cell_levels, item) %}
    {{ return(donor_imputation_sql(relation, uid, values, recipient_where, donor_where, cell_levels, item, false)) }}
{% endmacro %}

{#- `cascade`: each level looks only at the recipients the finer levels left without a donor;
    without it every level looks at every recipient, and the finest level that found one wins. -#}
{% macro donor_imputation_sql(relation, uid, values, recipient_where, donor_where, cell_levels, item, cascade) %}
    {%- set seed = var('imputation_seed') -%}
    {%- set all_cells = [] -%}
    {%- for cells in cell_levels %}{% for c in cells %}{% if c not in all_cells %}{% do all_cells.append(c) %}{% endif %}{% endfor %}{% endfor -%}
    with recipients_0 as (
        select {{ uid }} as uid, {{ all_cells | join(', ') }},
               {{ stable_hash(uid ~ " || '" ~ item ~ seed ~ "'") }} as pick_hash
        from {{ relation }} where {{ recipient_where }}
    ),
    {%- for cells in cell_levels %}
    {%- set level = loop.index %}
    {%- set cell_cols = cells | join(', ') %}
    {%- set recipients = 'recipients_' ~ (level - 1 if cascade else 0) %}
    pool_{{ level }} as (
        select {{ cell_cols }}, {{ values | join(', ') }},
               row_number() over (partition by {{ cell_cols }}
                                  order by {{ stable_hash(uid ~ " || 'donor" ~ item ~ seed ~ "'") }}, {{ uid }}) - 1 as donor_k,
               count(*) over (partition by {{ cell_cols }}) as donor_n
        from {{ relation }} as d
        where ({{ donor_where }})
          and exists (select 1 from {{ recipients }} as r
                      where {% for c in cells %}r.{{ c }} = d.{{ c }}{{ " and " if not loop.last }}{% endfor %})
    ),
    level_{{ level }} as (
        select r.uid, {% for v in values %}p.{{ v }}, {% endfor %}{{ level }} as donor_level
        from {{ recipients }} as r
        inner join pool_{{ level }} as p
            on {% for c in cells %}p.{{ c }} = r.{{ c }}{{ " and " if not loop.last }}{% endfor %}
           and p.donor_k = r.pick_hash % p.donor_n
    ),
    {%- if cascade and not loop.last %}
    recipients_{{ level }} as (
        select * from recipients_{{ level - 1 }} as r
        where not exists (select 1 from level_{{ level }} as l where l.uid = r.uid)
    ),
    {%- endif %}
    {%- endfor %}
    all_levels as (
        {%- for cells in cell_levels %}
        select * from level_{{ loop.index }}{{ " union all" if not loop.last }}
        {%- endfor %}
    )
    {%- if cascade %}
    select * from all_levels
    {%- else %},
    finest as (
        select *, row_number() over (partition by uid order by donor_level) as level_rank
        from all_levels
    )
    select {{ star_except(['level_rank']) }} from finest where level_rank = 1
    {%- endif %}
{% endmacro %}

{#- Age bands that respect the education-by-age limits, so a donor's valid education is also
    valid for the recipient. -#}
{% macro age_band(age) -%}
    case when {{ age }} < 3 then 0 when {{ age }} < 6 then 3 when {{ age }} < 12 then 6 when {{ age }} < 15 then 12
         when {{ age }} < 18 then 15 when {{ age }} < 22 then 18 when {{ age }} < 25 then 22
         when {{ age }} < 30 then 25 when {{ age }} < 40 then 30 when {{ age }} < 50 then 40
         when {{ age }} < 60 then 50 when {{ age }} < 70 then 60 when {{ age }} < 80 then 70 else 80 end
{%- endmacro %}

{#- The highest education code the age allows (rules.md). -#}
{% macro max_education_for_age(age) -%}
    case when {{ age }} < 3 then 0 when {{ age }} < 6 then 2 when {{ age }} < 12 then 3 when {{ age }} < 15 then 4
         when {{ age }} < 18 then 5 when {{ age }} < 22 then 7 when {{ age }} < 25 then 8 else 9 end
{%- endmacro %}
