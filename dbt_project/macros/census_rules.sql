{#- Rules of the census written once. The dates and the city come from dbt vars
    (dbt_project.yml: city_code, standard_time, census_year_start, census_year_end); these
    macros render the same SQL every model wrote out before. -#}

{#- The 4-digit prefix of the city's county-level codes (3301 for 330100). -#}
{% macro city_prefix() -%}
    {{ var('city_code')[:4] }}
{%- endmacro %}

{#- The standard time's year and month as one number (202011): a birth at or after it is not counted. -#}
{% macro standard_time_ym() -%}
    {{ var('standard_time')[:7] | replace('-', '') }}
{%- endmacro %}

{#- Age in completed years at the standard time (00:00 on its day, the 1st of its month) of a
    person born in month `birth_month` of `birth_year`: the birthday has come by then only if
    the month is earlier than the standard time's. Null when the birth year is null. -#}
{% macro age_at_standard_time(birth_year, birth_month) -%}
    {%- set year = var('standard_time')[:4] | int -%}
    {%- set month = var('standard_time')[5:7] | int -%}
    case when {{ birth_month }} < {{ month }} then {{ year }} else {{ year - 1 }} end - {{ birth_year }}
{%- endmacro %}

{#- Born in the census year, the twelve months before the standard time (births asked on the
    form and compared with the birth register). -#}
{% macro born_in_census_year(birth_year, birth_month) -%}
    {{ birth_year }} * 100 + {{ birth_month }} between {{ var('census_year_start')[:7] | replace('-', '') }} and {{ var('census_year_end')[:7] | replace('-', '') }}
{%- endmacro %}

{#- A valid hukou_region_code (rules.md, Codes): six digits whose first two are a province of
    codes/provinces.csv and, inside the city, a code of codes/regions.csv or a former district
    (330103, 330104). Never null. -#}
{% macro is_valid_hukou_region(column) -%}
    coalesce({{ regex_full_match(column, '[0-9]{6}') }}
        and substr({{ column }}, 1, 2) in (select cast(code as {{ text_type() }}) from {{ ref('provinces') }})
        and (substr({{ column }}, 1, 4) <> '{{ city_prefix() }}'
             or {{ column }} in (select cast(code as {{ text_type() }}) from {{ ref('regions') }})
             or {{ column }} in ('330103', '330104')), false)
{%- endmacro %}
