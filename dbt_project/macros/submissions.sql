{#- A submission typed (census uploads and the PES share the household format): its township
    and village codes from the EA code, household type 1 or 2 else missing, the H4/H5 birth and
    death counts read from JSON. `source` names a CTE of raw submissions. -#}
{% macro submission_items(source) %}
final as (
    select
        submission_id,
        household_id,
        channel,
        form,
        status,
        submitted_at,
        enumerator_id,
        ea_code,
        county_code,
        substr(ea_code, 1, 9) as township_code,
        substr(ea_code, 1, 12) as village_code,
        case when household_type in ('1', '2') then household_type end as household_type,
        h_resident_count,
        h_hukou_absent_count,
        {{ json_int('h_births_male') }} as h_births_male,
        {{ json_int('h_births_female') }} as h_births_female,
        {{ json_int('h_deaths_male') }} as h_deaths_male,
        {{ json_int('h_deaths_female') }} as h_deaths_female,
        person_line_count,
        upload_date,
        source_file,
        line_no
    from {{ source }}
)

select * from final
{% endmacro %}
