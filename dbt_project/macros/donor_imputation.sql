{#- Donor imputation in the spirit of CANCEIS: each recipient takes the values of one donor
    from its own imputation cell (e.g. same township, sex and age band), falling back to
    coarser cells (county, then city) when its cell has no donor. Within a cell the donor is
    chosen by a seeded hash of the recipient, so a rerun with the same seed gives the same
    donors, and donors are drawn in proportion to how common each value is (distributions are
    kept). Set-based: one window and one equi-join per level, no pairwise distances.

    Returns a select of (uid, <values>, donor_level). -#}
{% macro donor_imputation(relation, uid, values, recipient_where, donor_where, cell_levels, item) %}
    {%- set seed = var('imputation_seed') -%}
    {%- for cells in cell_levels %}
    {%- set level = loop.index %}
    {%- set cell_cols = cells | join(', ') %}
    select uid, {{ values | join(', ') }}, {{ level }} as donor_level
    from (
        select r.uid, {% for v in values %}d.{{ v }}{{ ", " if not loop.last }}{% endfor %}
        from (
            select {{ uid }} as uid, {{ cell_cols }},
                   {{ stable_hash(uid ~ " || '" ~ item ~ seed ~ "'") }} as pick_hash
            from {{ relation }} where {{ recipient_where }}
        ) as r
        inner join (
            select {{ cell_cols }}, {{ values | join(', ') }},
                   row_number() over (partition by {{ cell_cols }}
                                      order by {{ stable_hash(uid ~ " || 'donor" ~ item ~ seed ~ "'") }}, {{ uid }}) - 1 as donor_k,
                   count(*) over (partition by {{ cell_cols }}) as donor_n
            from {{ relation }} where {{ donor_where }}
        ) as d
            on {% for c in cells %}d.{{ c }} = r.{{ c }}{{ " and " if not loop.last }}{% endfor %}
           and d.donor_k = r.pick_hash % d.donor_n
    ) as level_{{ level }}
    {{ "union all" if not loop.last }}
    {%- endfor %}
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

{#- One row per recipient: the value from the finest cell level that had a donor. -#}
{% macro pick_first(select_sql) -%}
    select * exclude (pick_rank) from (
        select *, row_number() over (partition by uid order by donor_level) as pick_rank
        from ({{ select_sql }}) as levels
    ) as ranked where pick_rank = 1
{%- endmacro %}
