{#- DuckDB-only functions behind adapter.dispatch, so the models can move to Spark. -#}

{% macro regex_full_match(expr, pattern) -%}
    {{ return(adapter.dispatch('regex_full_match', 'census')(expr, pattern)) }}
{%- endmacro %}
{% macro default__regex_full_match(expr, pattern) -%}
    regexp_full_match({{ expr }}, '{{ pattern }}')
{%- endmacro %}
{% macro spark__regex_full_match(expr, pattern) -%}
    ({{ expr }} rlike '^{{ pattern }}$')
{%- endmacro %}

{#- A date from 'YYYY-MM-DD' text, or null when it is not a real calendar date. -#}
{% macro safe_date(expr) -%}
    {{ return(adapter.dispatch('safe_date', 'census')(expr)) }}
{%- endmacro %}
{% macro default__safe_date(expr) -%}
    try_cast({{ expr }} as date)
{%- endmacro %}
{% macro spark__safe_date(expr) -%}
    to_date({{ expr }}, 'yyyy-MM-dd')
{%- endmacro %}

{#- A deterministic 64-bit hash of text, for reproducible donor choice. -#}
{% macro stable_hash(expr) -%}
    {{ return(adapter.dispatch('stable_hash', 'census')(expr)) }}
{%- endmacro %}
{% macro default__stable_hash(expr) -%}
    hash({{ expr }})
{%- endmacro %}
{% macro spark__stable_hash(expr) -%}
    xxhash64({{ expr }})
{%- endmacro %}

{#- An integer from text, or null when it is not one. -#}
{% macro safe_int(expr) -%}
    {{ return(adapter.dispatch('safe_int', 'census')(expr)) }}
{%- endmacro %}
{% macro default__safe_int(expr) -%}
    try_cast({{ expr }} as integer)
{%- endmacro %}
{% macro spark__safe_int(expr) -%}
    cast({{ expr }} as int)
{%- endmacro %}

{#- One row per census day, 2020-10-11 (self-enumeration opens) to 2020-11-30 (review ends). -#}
{% macro census_days() -%}
    {{ return(adapter.dispatch('census_days', 'census')()) }}
{%- endmacro %}
{% macro default__census_days() -%}
    select cast(unnest(generate_series(date '2020-10-11', date '2020-11-30', interval 1 day)) as date) as census_day
{%- endmacro %}
{% macro spark__census_days() -%}
    select explode(sequence(to_date('2020-10-11'), to_date('2020-11-30'), interval 1 day)) as census_day
{%- endmacro %}

{#- For an import CTE that a model reads more than once: DuckDB materializes such a CTE, a copy of
    every column of the table (int_register_links at 12 M persons: two copies of ~10 M wide rows,
    3.7 GB spilled, 2.3x the time); inlined, each use reads only the columns it needs.
    `name as {{ not_materialized() }} (select ...)`; other engines inline or decide themselves. -#}
{% macro not_materialized() -%}
    {{ return(adapter.dispatch('not_materialized', 'census')()) }}
{%- endmacro %}
{% macro default__not_materialized() -%}{%- endmacro %}
{% macro duckdb__not_materialized() -%}not materialized{%- endmacro %}
