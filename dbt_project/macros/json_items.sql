{#- Reading item values that arrive as JSON: anything may be missing, null or of the wrong
    type (household_submission.md); such a value reads as null and the edits deal with it.

    The values come from ingestion's json_transform, so each is one minified JSON value: a
    string starts with a double quote, and a string without a backslash is exactly the text
    between its quotes. That text is taken as it stands (no JSON parse); only strings with
    escapes are decoded. At 12 M persons x 22 items this halves the staging of person lines. -#}

{#- The value of a JSON string, untrimmed; null when the JSON is not a string. -#}
{% macro json_text(col) -%}
    case when {{ col }} like '"%'
         then case when {{ has_backslash(col) }} then {{ json_string_decode(col) }} else substr({{ col }}, 2, length({{ col }}) - 2) end
    end
{%- endmacro %}

{% macro json_string(col) -%}
    trim({{ json_text(col) }})
{%- endmacro %}

{#- A JSON integer (no fraction or exponent); null for anything else, or beyond a bigint. -#}
{% macro json_int(col) -%}
    case when {{ regex_full_match(col, '-?[0-9]+') }} then try_cast({{ col }} as bigint) end
{%- endmacro %}

{#- A code from the text of a string: digits only; "1" and "01" are the same code, compared as
    integers. With a width, zero-padded to it, never cut: lpad would cut "100" to "10", a valid
    ethnicity code, where "100" is no code at all (a property test found it). -#}
{% macro code_value(text, width=none) -%}
    {%- set number = "case when " ~ regex_full_match("trim(" ~ text ~ ")", "[0-9]{1,3}") ~ " then cast(trim(" ~ text ~ ") as integer) end" -%}
    {%- if width -%} printf('%0{{ width }}d', {{ number }}) {%- else -%} cast({{ number }} as {{ text_type() }}) {%- endif -%}
{%- endmacro %}

{% macro json_code(col, width=none) -%}
    {{ code_value(json_text(col), width) }}
{%- endmacro %}
