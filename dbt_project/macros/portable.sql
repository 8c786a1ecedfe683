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
