{#- A ratio of non-negative integer counts, times `scale`, rounded half away from zero to
    `decimals` places in exact integer arithmetic (a binary double would round 2.345 down);
    a zero denominator gives an empty cell (rules.md, Rounding). -#}
{% macro rounded_ratio(num, den, scale=1, decimals=2) -%}
    {%- set num = "(" ~ num ~ ")" -%}
    {%- set den = "(" ~ den ~ ")" -%}
    case when {{ den }} = 0 then null else
        {%- if decimals == 0 %}
        {{ int_div("2 * cast(" ~ num ~ " as bigint) * " ~ scale ~ " + " ~ den, "2 * " ~ den) }}
        {%- else %}
        cast({{ int_div("2 * cast(" ~ num ~ " as bigint) * " ~ (scale * 10 ** decimals) ~ " + " ~ den, "2 * " ~ den) }}
             as decimal(38, 0)) * cast({{ "0." ~ "0" * (decimals - 1) ~ "1" }} as decimal(38, {{ decimals }}))
        {%- endif %}
    end
{%- endmacro %}

{% macro int_div(a, b) -%}
    {{ return(adapter.dispatch('int_div', 'census')(a, b)) }}
{%- endmacro %}
{% macro default__int_div(a, b) -%}
    (({{ a }}) // ({{ b }}))
{%- endmacro %}
{% macro spark__int_div(a, b) -%}
    div({{ a }}, {{ b }})
{%- endmacro %}
