{#- Census records to link: every person line of an authoritative submission except removed
    duplicates, with the keys linkage compares. The birth date is the ID's where the ID is
    valid; where it is not, the date written in the ID is used when it agrees with the form's
    birth month (a transposed check digit leaves it intact). Restricted zone. -#}
with persons as (
    select * from {{ ref('int_persons_edited') }}
    where not is_duplicate_removed
),

final as (
    select
        p.submission_id || ':' || p.person_index as record_id,
        p.line_no,
        p.household_id,
        p.ea_code,
        p.is_counted,
        p.person_name as name,
        {{ name_keys('p', 'person_name') }},
        p.sex_before_edits as sex,
        case
            when p.has_valid_id then p.birth_date_from_id
            when year({{ id_birth_date('p.id_number') }}) = p.birth_year_before_edits
             and month({{ id_birth_date('p.id_number') }}) = p.birth_month_before_edits
                then {{ id_birth_date('p.id_number') }}
        end as birth_date,
        p.birth_year_before_edits * 100 + p.birth_month_before_edits as birth_ym,
        p.township_code,
        p.county_code,
        p.id_number,
        p.has_valid_id,
        p.has_valid_id as id_valid
    from persons as p
    {{ pinyin_joins('p', 'person_name') }}
)

select * from final
