{#- Name keys for record linkage. Chinese names are compared character by character: the
    surname, the length, and the name with one given-name character masked at a time
    (positions 2-4), so that "one character differs" is an equality on one of three masks:
    set-based, no string-distance function (DuckDB's levenshtein counts UTF-8 bytes). -#}
{% macro name_keys(alias, column) -%}
    {%- set name = alias ~ '.' ~ column -%}
    {{ name_pinyin(alias, column) }} as name_pinyin,
    substr({{ name }}, 1, 1) as surname,
    length({{ name }}) as name_length,
    substr({{ name }}, 1, 1) || '*' || substr({{ name }}, 3) as name_mask2,
    substr({{ name }}, 1, 2) || '*' || substr({{ name }}, 4) as name_mask3,
    substr({{ name }}, 1, 3) || '*' || substr({{ name }}, 5) as name_mask4
{%- endmacro %}

{#- Pinyin of a name of up to four characters, from the character table `int_name_pinyin`
    joined once per position (pinyin_joins); longer names have none. -#}
{% macro pinyin_joins(alias, name, positions=4) -%}
    {%- for i in range(1, positions + 1) %}
    left join {{ ref('int_name_pinyin') }} as py{{ i }} on py{{ i }}.character = substr({{ alias }}.{{ name }}, {{ i }}, 1)
    {%- endfor %}
{%- endmacro %}

{% macro name_pinyin(alias, name, positions=4) -%}
    {#- typed: on a census with no names the character table is empty and its column untyped -#}
    cast(case when length({{ alias }}.{{ name }}) <= {{ positions }} then
        py1.pinyin
        {%- for i in range(2, positions + 1) %} || coalesce(' ' || py{{ i }}.pinyin, ''){% endfor %}
    end as {{ dbt.type_string() }})
{%- endmacro %}

{#- Two names agree up to one character of the given name (same length, one mask equal). -#}
{% macro names_one_character_apart(l, r) -%}
    ({{ l }}.name_length = {{ r }}.name_length
     and ({{ l }}.name_mask2 = {{ r }}.name_mask2 or {{ l }}.name_mask3 = {{ r }}.name_mask3
          or {{ l }}.name_mask4 = {{ r }}.name_mask4))
{%- endmacro %}

{#- How two records' names agree: exact, pinyin (homophone), one_character, different. -#}
{% macro name_agreement(l, r) -%}
    case
        when {{ l }}.name = {{ r }}.name then 'exact'
        when {{ l }}.name_pinyin = {{ r }}.name_pinyin then 'pinyin'
        when {{ names_one_character_apart(l, r) }} then 'one_character'
        else 'different'
    end
{%- endmacro %}

{#- A census record key, submission_id || ':' || person_index: its submission id (part 1) or its
    person index as text (part 2); null for a null key. The split is at the last ':' (a hostile
    submission id may hold one). Same function and arguments on DuckDB and Spark. -#}
{% macro record_id_part(record_id, part) -%}
    nullif(regexp_extract({{ record_id }}, '^(.*):([0-9]+)$', {{ part }}), '')
{%- endmacro %}
