{#- Person lines of the authoritative submissions, with item precedence and age
    (rules.md): a valid ID number outranks the form's sex and birth month (the form's value
    kept, flagged); a code outside its list counts as missing; two lines of one submission
    with the same ID and different names: the second line's ID is treated as invalid. Age is
    completed years at 2020-11-01 00:00. -#}
with households as (
    select * from {{ ref('int_households_resolved') }}
),

lines as (
    select * from {{ ref('stg_landing__person_lines') }}
),

{% set code_lists = {
    'relationship': 'relationship', 'id_type': 'id_type', 'residence': 'residence',
    'hukou_place': 'hukou_place', 'left_hukou_duration': 'left_hukou_duration',
    'left_hukou_reason': 'left_hukou_reason', 'education_reported': 'education',
    'ethnicity_reported': 'ethnicity', 'marital_status': 'marital_status', 'health': 'health'} %}

{#- Each code looked up in its list once (the value and the out-of-list flag both read it). -#}
listed as (
    select
        l.*,
        {% for col, seed in code_lists.items() -%}
        l.{{ col }} in (select {{ "cast(cast(code as integer) as " ~ text_type() ~ ")" if seed != 'ethnicity' else "code" }}
                        from {{ ref(seed) }}) as {{ col }}_listed{{ "," if not loop.last }}
        {% endfor %}
    from lines as l
),

{%- set listed_columns = [] -%}
{%- for col in code_lists %}{% do listed_columns.extend([col, col ~ '_listed']) %}{% endfor %}
in_lists as (
    select
        {{ star_except(listed_columns, 'l.') }},
        {% for col in code_lists -%}
        case when l.{{ col }}_listed then l.{{ col }} end as {{ col }},
        l.{{ col }} is not null and not l.{{ col }}_listed as {{ col }}_out_of_list,
        {% endfor -%}
        case when l.sex_reported in ('1', '2') then l.sex_reported end as sex_form,
        case when l.literate_reported in ('1', '2') then l.literate_reported end as literate_form,
        h.household_id,
        h.ea_code,
        h.county_code,
        h.township_code,
        h.village_code,
        h.urban_rural_code,
        h.household_type,
        h.status as submission_status,
        h.form as submission_form,
        h.submitted_at,
        h.enumerator_id
    from listed as l
    inner join households as h on h.submission_id = l.submission_id
),

{#- An ID number written on two or more lines of one submission, and the name on the first of
    them; on any other line with an ID number that line's own name is the first. An aggregate
    and a join of the few such lines, not a window over every line. They read the staging view
    itself, not `in_lists`: a CTE read twice is materialized whole (12 M wide rows), while the
    view is read here for three columns. Lines of superseded submissions take part and are
    simply never joined (it is all per submission). -#}
repeated_ids as (
    select submission_id, id_number, min(person_index) as first_index
    from {{ ref('stg_landing__person_lines') }}
    where id_number is not null
    group by submission_id, id_number
    having count(*) > 1
),

first_names as (
    select r.submission_id, r.id_number, s.person_name as first_name_with_this_id
    from repeated_ids as r
    inner join {{ ref('stg_landing__person_lines') }} as s
        on s.submission_id = r.submission_id and s.person_index = r.first_index
),

precedence as (
    select
        l.*,
        l.id_number_is_valid
            and (l.person_name is not distinct from
                 case when l.id_number is null then null
                      when f.submission_id is null then l.person_name
                      else f.first_name_with_this_id end) as has_valid_id
    from in_lists as l
    left join first_names as f on f.submission_id = l.submission_id and f.id_number = l.id_number
),

dated as (
    select
        {{ star_except(['id_number_is_valid']) }},
        id_number_is_valid and not has_valid_id as id_invalid_by_name_clash,
        case when has_valid_id then {{ id_sex('id_number') }} else sex_form end as sex_before_edits,
        case when has_valid_id then {{ id_birth_date('id_number') }} end as birth_date_from_id,
        case when has_valid_id then cast(substr(id_number, 7, 4) as integer) else birth_year_reported end
            as birth_year_before_edits,
        case when has_valid_id then cast(substr(id_number, 11, 2) as integer) else birth_month_reported end
            as birth_month_before_edits
    from precedence
),

final as (
    select
        *,
        has_valid_id and (sex_form is distinct from sex_before_edits) as sex_differs_from_id,
        has_valid_id and ((birth_year_reported is distinct from birth_year_before_edits)
                          or (birth_month_reported is distinct from birth_month_before_edits)) as birth_differs_from_id,
        {{ age_at_standard_time('birth_year_before_edits', 'birth_month_before_edits') }} as age_before_edits,
        coalesce(birth_year_before_edits * 100 + birth_month_before_edits >= {{ standard_time_ym() }}, false)
            as is_born_after_standard_time
    from dated
)

select * from final
