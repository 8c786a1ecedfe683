{#- The items of a person line read from JSON (census uploads and the PES share the line
    format): codes normalised ("01" = "1"), wrong types read as missing, the birth month
    checked, the ID number validated. `source` names a CTE of raw person lines. -#}
{% macro person_line_items(source) %}
renamed as (
    select
        submission_id,
        person_index,
        {{ json_int('line_no') }} as line_no,
        {{ json_string('name') }} as person_name,
        {{ json_code('relationship') }} as relationship,
        {{ json_code('id_type') }} as id_type,
        {{ normalise_id_number(json_string('id_number')) }} as id_number,
        {{ json_code('sex') }} as sex_reported,
        {{ json_string('birth_ym') }} as birth_ym_reported,
        {{ json_code('ethnicity', 2) }} as ethnicity_reported,
        {{ json_code('residence') }} as residence,
        {{ json_code('hukou_place') }} as hukou_place,
        {{ json_string('hukou_region_code') }} as hukou_region_code,
        {{ json_code('left_hukou_duration') }} as left_hukou_duration,
        {{ json_code('left_hukou_reason') }} as left_hukou_reason,
        {{ json_code('education') }} as education_reported,
        {{ json_code('literate') }} as literate_reported,
        json_type(long) = 'OBJECT' as has_long_form_items,
        {{ json_code("json_extract(long, '$.marital_status')") }} as marital_status,
        {{ json_code("json_extract(long, '$.worked_last_week')") }} as worked_last_week,
        {{ json_string("json_extract(long, '$.industry_section')") }} as industry_section,
        {{ json_code("json_extract(long, '$.occupation_major')") }} as occupation_major,
        {{ json_int("json_extract(long, '$.children_ever_born')") }} as children_ever_born,
        {{ json_code("json_extract(long, '$.health')") }} as health
    from {{ source }}
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
        * exclude (has_valid_birth_ym),
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
