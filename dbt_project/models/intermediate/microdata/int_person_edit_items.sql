{#- The first edits and imputations of int_persons_edited (rules.md; rule set in
    seeds/edit_rules.csv), on a narrow projection of the person lines: birth (donor
    imputation), then sex (its cells need the age), then the checks of education, literacy and
    ethnicity that decide who needs a donor. A table of its own: int_persons_edited reads it
    about fifteen times (donor pools and recipients), and a table is read column by column,
    where a CTE of 12 M rows is materialized whole and, past the memory limit, spilled. For the
    same reason the CTEs the donor steps read several times (items, with_birth, aged) are not
    materialized: each read takes its few columns and rows from the tables (1 M persons, alone,
    median of 5: CPU 0.83 -> 0.43 s). -#}
with items as {{ not_materialized() }} (  -- read by every donor step: inlined, each reads only its columns
    select
        submission_id, person_index, submission_id || ':' || person_index as uid,
        household_type, is_counted, has_valid_id, township_code, county_code, relationship,
        sex_before_edits, sex_differs_from_id, birth_year_before_edits, birth_month_before_edits,
        birth_differs_from_id, education_reported, literate_form, ethnicity_reported
    from {{ ref('int_persons_deduplicated') }}
),

birth_donors as (
    {{ donor_imputation(
        'items', 'uid', ['birth_year_before_edits', 'birth_month_before_edits'],
        'birth_year_before_edits is null and not has_valid_id',
        'is_counted and birth_year_before_edits is not null',
        [['township_code', 'sex_before_edits', 'relationship'], ['county_code', 'relationship'], ['household_type']],
        'birth') }}
),

with_birth as {{ not_materialized() }} (
    select
        i.*,
        coalesce(i.birth_year_before_edits, b.birth_year_before_edits) as birth_year,
        coalesce(i.birth_month_before_edits, b.birth_month_before_edits) as birth_month,
        case when b.uid is not null then 'E15_birth_missing'
             when i.birth_differs_from_id then 'P02_birth_from_id' end as birth_edit_rule
    from items as i
    left join birth_donors as b on b.uid = i.uid
),

aged as {{ not_materialized() }} (
    select
        *,
        {{ age_at_standard_time('birth_year', 'birth_month') }} as age,
        {{ age_band('(' ~ age_at_standard_time('birth_year', 'birth_month') ~ ')') }} as age_band
    from with_birth
),

sex_donors as (
    {{ donor_imputation(
        'aged', 'uid', ['sex_before_edits'],
        'sex_before_edits is null',
        'is_counted and sex_before_edits is not null',
        [['township_code', 'age_band'], ['county_code', 'age_band'], ['age_band']],
        'sex') }}
),

with_sex as (
    select
        a.*,
        coalesce(a.sex_before_edits, s.sex_before_edits) as sex,
        case when s.uid is not null then 'E14_sex_missing'
             when a.sex_differs_from_id then 'P01_sex_from_id' end as sex_edit_rule
    from aged as a
    left join sex_donors as s on s.uid = a.uid
),

item_checks as (
    select
        *,
        case
            when age < 3 and education_reported is not null then 'E07_education_under_3'
            when age >= 3 and cast(education_reported as integer) > {{ max_education_for_age('age') }}
                then 'E08_education_above_age'
            when age >= 3 and education_reported is null then 'E09_education_missing'
        end as education_edit_rule,
        case
            when age < 15 and literate_form is not null then 'E10_literacy_under_15'
            when age >= 15 and literate_form is null then 'E11_literacy_missing'
        end as literate_rule_before_education,
        case when ethnicity_reported is null then 'E13_ethnicity_missing' end as ethnicity_edit_rule
    from with_sex
)

select * from item_checks
