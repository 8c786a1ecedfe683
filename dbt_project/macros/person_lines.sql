{#- The items of a person line read from JSON (census uploads and the PES share the line
    format): codes normalised ("01" = "1"), wrong types read as missing, the birth month
    checked, the ID number validated. `source` names a CTE of raw person lines. -#}
{% macro person_line_items(source) %}
{#- each item's JSON read once (json_text), then trimmed and coded from that text -#}
{%- set codes = ['relationship', 'id_type', 'sex', 'ethnicity', 'residence', 'hukou_place', 'left_hukou_duration',
                 'left_hukou_reason', 'education', 'literate'] -%}
{%- set texts = ['name', 'id_number', 'birth_ym', 'hukou_region_code'] -%}
{%- set long_items = ['marital_status', 'worked_last_week', 'industry_section', 'occupation_major', 'health'] %}
texts as (
    select
        submission_id,
        person_index,
        {{ json_int('line_no') }} as line_no,
        {% for col in codes + texts -%}
        {{ json_text(col) }} as {{ col }},
        {% endfor -%}
        long like '{{ '{' }}%' as has_long_form_items,
        {{ json_members('long', ['marital_status', 'worked_last_week', 'industry_section', 'occupation_major',
                                'children_ever_born', 'health']) }} as long_items
    from {{ source }}
),

long_texts as (
    select
        {{ star_except(['long_items']) }},
        {% for col in long_items -%}
        {{ json_text(json_member('long_items', col)) }} as {{ col }},
        {% endfor -%}
        {{ json_int(json_member('long_items', 'children_ever_born')) }} as children_ever_born
    from texts
),

renamed as (
    select
        submission_id,
        person_index,
        line_no,
        trim(name) as person_name,
        {{ code_value('relationship') }} as relationship,
        {{ code_value('id_type') }} as id_type,
        {{ normalise_id_number('id_number') }} as id_number,
        {{ code_value('sex') }} as sex_reported,
        trim(birth_ym) as birth_ym_reported,
        {{ code_value('ethnicity', 2) }} as ethnicity_reported,
        {{ code_value('residence') }} as residence,
        {{ code_value('hukou_place') }} as hukou_place,
        trim(hukou_region_code) as hukou_region_code,
        {{ code_value('left_hukou_duration') }} as left_hukou_duration,
        {{ code_value('left_hukou_reason') }} as left_hukou_reason,
        {{ code_value('education') }} as education_reported,
        {{ code_value('literate') }} as literate_reported,
        has_long_form_items,
        {{ code_value('marital_status') }} as marital_status,
        {{ code_value('worked_last_week') }} as worked_last_week,
        trim(industry_section) as industry_section,
        {{ code_value('occupation_major') }} as occupation_major,
        children_ever_born,
        {{ code_value('health') }} as health
    from long_texts
),

birth_months as (
    select
        *,
        {{ regex_full_match('birth_ym_reported', '[0-9]{4}-[0-9]{2}') }}
            and {{ safe_int('substr(birth_ym_reported, 6, 2)') }} between 1 and 12
            and {{ safe_int('substr(birth_ym_reported, 1, 4)') }} between 1890 and 2020 as has_valid_birth_ym
    from renamed
),

final as (
    select
        {{ star_except(['has_valid_birth_ym']) }},
        case when has_valid_birth_ym then {{ safe_int('substr(birth_ym_reported, 1, 4)') }} end as birth_year_reported,
        case when has_valid_birth_ym then {{ safe_int('substr(birth_ym_reported, 6, 2)') }} end as birth_month_reported,
        {{ is_valid_id_number('id_number') }} and id_type = '1' as id_number_is_valid
    from birth_months
)

select * from final
{% endmacro %}

{#- The PES post-stratum of a person: county group x sex x age group x migrant status
    (hukou in another county). `groups` is the pes_county_groups seed joined as g. -#}
{% macro pes_post_stratum_columns(sex, age, hukou_place) -%}
    coalesce(g.county_group, 'outer_west') as county_group,
    coalesce({{ sex }}, '?') as ps_sex,
    case when {{ age }} < 5 then '00-04' when {{ age }} < 18 then '05-17' when {{ age }} < 30 then '18-29'
         when {{ age }} < 50 then '30-49' when {{ age }} < 65 then '50-64' else '65+' end as age_group,
    case when {{ hukou_place }} = '4' then 'migrant' else 'local' end as migrant_status
{%- endmacro %}

{% macro pes_post_stratum_id() -%}
    county_group || '|' || ps_sex || '|' || age_group || '|' || migrant_status
{%- endmacro %}
