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
{#- Spark: DuckDB's own hash (census_pipeline/lib/duckdb_hash.py, registered by
    census_pipeline/spark_dbt.py), so both engines draw the same donors and cell keys. -#}
{% macro spark__stable_hash(expr) -%}
    census_stable_hash({{ expr }})
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

{#- The text type in a cast: Spark has no varchar without a length. -#}
{% macro text_type() -%}
    {{ return(adapter.dispatch('text_type', 'census')()) }}
{%- endmacro %}
{% macro default__text_type() -%}varchar{%- endmacro %}
{% macro spark__text_type() -%}string{%- endmacro %}

{#- Every column but `columns` (a list of names), one name a line (a long list stays under the
    line length sqlfluff allows): DuckDB's `* exclude`, Spark's `* except`. -#}
{% macro star_except(columns, prefix='') -%}
    {{ prefix }}* {{ adapter.dispatch('star_except_keyword', 'census')() }} (
        {%- for c in columns %}
            {{ c }}{{ "," if not loop.last }}
        {%- endfor %}
        )
{%- endmacro %}
{% macro default__star_except_keyword() -%}exclude{%- endmacro %}
{% macro spark__star_except_keyword() -%}except{%- endmacro %}

{#- The value of a JSON string (text starting with a double quote) that holds escapes. -#}
{% macro json_string_decode(expr) -%}
    {{ return(adapter.dispatch('json_string_decode', 'census')(expr)) }}
{%- endmacro %}
{% macro default__json_string_decode(expr) -%}
    {{ expr }} ->> '$'
{%- endmacro %}
{% macro spark__json_string_decode(expr) -%}
    variant_get(parse_json({{ expr }}), '$', 'string')
{%- endmacro %}

{#- Whether text holds a backslash (a backslash in a Spark string literal is an escape). -#}
{% macro has_backslash(expr) -%}
    {{ return(adapter.dispatch('has_backslash', 'census')(expr)) }}
{%- endmacro %}
{% macro default__has_backslash(expr) -%}
    contains({{ expr }}, '\')
{%- endmacro %}
{% macro spark__has_backslash(expr) -%}
    contains({{ expr }}, '\\')
{%- endmacro %}

{#- A JSON object's members, each kept as its own JSON text: `json_members(col, keys)` in one
    CTE, `json_member(that, key)` in the next. DuckDB shreds once into a struct; Spark parses into
    a VARIANT and writes each member back as JSON text (a string keeps its quotes, so "a string
    or not" reads the same). Not an object, or no such member: null. -#}
{% macro json_members(expr, keys) -%}
    {{ return(adapter.dispatch('json_members', 'census')(expr, keys)) }}
{%- endmacro %}
{% macro default__json_members(expr, keys) -%}
    json_transform({{ expr }}, '{ {%- for k in keys %}"{{ k }}": "JSON"{{ ", " if not loop.last }}{% endfor -%} }')
{%- endmacro %}
{% macro spark__json_members(expr, keys) -%}
    try_parse_json({{ expr }})
{%- endmacro %}
{% macro json_member(expr, key) -%}
    {{ return(adapter.dispatch('json_member', 'census')(expr, key)) }}
{%- endmacro %}
{% macro default__json_member(expr, key) -%}
    {{ expr }}.{{ key }}
{%- endmacro %}
{% macro spark__json_member(expr, key) -%}
    to_json(try_variant_get({{ expr }}, '$.{{ key }}'))
{%- endmacro %}

{#- One row per integer start, start + 1, ..., stop - 1, as `column` (bigint). -#}
{% macro integer_rows(start, stop, column) -%}
    {{ return(adapter.dispatch('integer_rows', 'census')(start, stop, column)) }}
{%- endmacro %}
{% macro default__integer_rows(start, stop, column) -%}
    select unnest(range({{ start }}, {{ stop }})) as {{ column }}
{%- endmacro %}
{% macro spark__integer_rows(start, stop, column) -%}
    select explode(sequence(cast({{ start }} as bigint), cast({{ stop }} - 1 as bigint))) as {{ column }}
{%- endmacro %}

{#- a / b where both are decimals: DuckDB divides them as doubles, Spark as decimals (another
    type, and other digits once rounded), so Spark is told to do what DuckDB does. -#}
{% macro decimal_ratio(a, b) -%}
    {{ return(adapter.dispatch('decimal_ratio', 'census')(a, b)) }}
{%- endmacro %}
{% macro default__decimal_ratio(a, b) -%}
    {{ a }} / {{ b }}
{%- endmacro %}
{% macro spark__decimal_ratio(a, b) -%}
    cast({{ a }} as double) / cast({{ b }} as double)
{%- endmacro %}

{#- An instant written with its UTC offset ('2020-11-16 00:00:00+08'): DuckDB's TIMESTAMPTZ,
    Spark's TIMESTAMP (an instant too; Spark has no TIMESTAMPTZ literal). -#}
{% macro instant_literal(text) -%}
    {{ return(adapter.dispatch('instant_literal', 'census')(text)) }}
{%- endmacro %}
{% macro default__instant_literal(text) -%}
    timestamptz '{{ text }}'
{%- endmacro %}
{% macro spark__instant_literal(text) -%}
    timestamp '{{ text }}'
{%- endmacro %}

{#- The calendar date of an instant on the clocks of `time_zone` ('Asia/Shanghai'). Spark: the
    instant as the session's wall-clock time, converted from the session's zone to `time_zone`
    (from_utc_timestamp would be right only in a UTC session); right in any session zone without
    daylight saving (UTC, the runner's default): in one with it, an instant in the autumn's
    repeated hour is read an hour off. -#}
{% macro local_date(time_zone, expr) -%}
    {{ return(adapter.dispatch('local_date', 'census')(time_zone, expr)) }}
{%- endmacro %}
{% macro default__local_date(time_zone, expr) -%}
    cast(timezone('{{ time_zone }}', {{ expr }}) as date)
{%- endmacro %}
{% macro spark__local_date(time_zone, expr) -%}
    cast(convert_timezone('{{ time_zone }}', cast({{ expr }} as timestamp_ntz)) as date)
{%- endmacro %}
