{#- De-identified household records: one row per household with an accepted submission, its
    authoritative submission's geography and type, and its size after duplicate removal.
    A household counts when at least one of its persons counts. -#}
with households as (
    select * from {{ ref('int_households_resolved') }}
),

persons as (
    select * from {{ ref('int_persons_edited') }}
),

deaths as (
    select * from {{ ref('stg_landing__death_lines') }}
),

sizes as (
    select
        submission_id,
        sum(case when is_counted then 1 else 0 end) as persons_counted,
        sum(case when residence = '1' then 1 else 0 end) as resident_lines,
        sum(case when residence is distinct from '1' then 1 else 0 end) as other_lines,
        sum(case when {{ born_in_census_year('birth_year', 'birth_month') }} and sex = '1' then 1 else 0 end)
            as births_male_from_lines,
        sum(case when {{ born_in_census_year('birth_year', 'birth_month') }} and sex = '2' then 1 else 0 end)
            as births_female_from_lines,
        max(case when relationship_edit_rule is not null or education_edit_rule is not null
                      or literate_edit_rule is not null or ethnicity_edit_rule is not null
                      or sex_edit_rule like 'E%' or birth_edit_rule like 'E%' then 1 else 0 end) = 1 as has_edits
    from persons
    group by submission_id
),

death_counts as (
    select
        submission_id,
        sum(case when sex = '1' then 1 else 0 end) as deaths_male_from_forms,
        sum(case when sex = '2' then 1 else 0 end) as deaths_female_from_forms
    from deaths
    group by submission_id
),

final as (
    select
        h.household_id,
        h.ea_code,
        h.village_code,
        h.township_code,
        h.county_code,
        h.urban_rural_code,
        h.urban_rural_code like '1%' as is_urban,
        h.urban_rural_defaulted,
        h.household_type,
        h.household_type_edit_rule,
        h.status as submission_status,
        h.form = 'long' as is_long_form,
        h.channel,
        h.is_listed,
        h.has_final,
        h.submissions_received,
        coalesce(s.persons_counted, 0) as persons_counted,
        coalesce(s.persons_counted, 0) > 0 as is_counted,
        h.h_resident_count,
        h.h_hukou_absent_count,
        coalesce(s.resident_lines, 0) as resident_lines,
        coalesce(s.other_lines, 0) as other_lines,
        coalesce(s.resident_lines, 0) < h.h_resident_count
            or coalesce(s.other_lines, 0) < h.h_hukou_absent_count as has_fewer_lines_than_h3,
        case when h.household_type = '1' then coalesce(h.h_births_male, s.births_male_from_lines) end as births_male,
        case when h.household_type = '1' then coalesce(h.h_births_female, s.births_female_from_lines) end as births_female,
        case when h.household_type = '1' then coalesce(h.h_deaths_male, d.deaths_male_from_forms, 0) end as deaths_male,
        case when h.household_type = '1' then coalesce(h.h_deaths_female, d.deaths_female_from_forms, 0) end as deaths_female,
        case when h.household_type = '1' and (h.h_births_male is null or h.h_births_female is null
                                              or h.h_deaths_male is null or h.h_deaths_female is null)
             then 'E19_births_deaths_missing' end as births_deaths_edit_rule,
        coalesce(s.has_edits, false) as has_person_edits
    from households as h
    left join sizes as s on s.submission_id = h.submission_id
    left join death_counts as d on d.submission_id = h.submission_id
)

select * from final
