{#- Reading item values that arrive as JSON: anything may be missing, null or of the wrong
    type (household_submission.md); such a value reads as null and the edits deal with it. -#}

{% macro json_string(col) -%}
    case when json_type({{ col }}) = 'VARCHAR' then trim({{ col }} ->> '$') end
{%- endmacro %}

{% macro json_int(col) -%}
    case when json_type({{ col }}) in ('UBIGINT', 'BIGINT') then cast({{ col }} ->> '$' as bigint) end
{%- endmacro %}

{#- A code: a string of digits; "1" and "01" are the same code, compared as integers. -#}
{% macro json_code(col, width=none) -%}
    {%- set digits = "case when json_type(" ~ col ~ ") = 'VARCHAR' and " ~ regex_full_match("trim(" ~ col ~ " ->> '$')", "[0-9]{1,3}") ~ " then cast(cast(trim(" ~ col ~ " ->> '$') as integer) as varchar) end" -%}
    {%- if width -%} lpad({{ digits }}, {{ width }}, '0') {%- else -%} {{ digits }} {%- endif -%}
{%- endmacro %}
