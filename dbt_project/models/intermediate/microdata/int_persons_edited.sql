{#- Edits and imputation (rules.md; rule set in seeds/edit_rules.csv), set-based, changing as
    few fields as possible: a relationship edit changes only the relationship; nothing changes
    a sex or birth date taken from a valid ID; residence and hukou items are never imputed.
    Every changed value keeps its original next to it and the rule that changed it. Order:
    birth, then sex (their cells need them; in int_person_edit_items), then education,
    literacy and ethnicity (cells by township, sex and age band), then relationships (they
    need the final ages).

    The rules run on a narrow projection of the items they read; the wide person rows are
    joined back once at the end, so no step sorts or copies names and long-form answers
    (at 12 M persons the wide rows are ~20 GB in memory). Household-level facts (heads, the
    head's age) are aggregates joined back by submission, not windows over whole rows. -#}
{#- int_person_edit_items is read where it is used (a CTE over it read many times would be
    materialized whole). -#}
{%- set item_checks = ref('int_person_edit_items') %}
with persons as (
    select * from {{ ref('int_persons_deduplicated') }}
),

education_donors as (
    {{ donor_imputation(
        item_checks | string, 'uid', ['education_reported'],
        "education_edit_rule in ('E08_education_above_age', 'E09_education_missing')",
        'is_counted and education_edit_rule is null and education_reported is not null and age >= 3',
        [['township_code', 'sex', 'age_band'], ['county_code', 'sex', 'age_band'], ['sex', 'age_band'], ['age_band']],
        'education') }}
),

literacy_donors as (
    {{ donor_imputation(
        item_checks | string, 'uid', ['literate_form'],
        "literate_rule_before_education = 'E11_literacy_missing'",
        'is_counted and literate_rule_before_education is null and literate_form is not null and age >= 15',
        [['township_code', 'sex', 'age_band'], ['county_code', 'sex', 'age_band'], ['sex', 'age_band'], ['age_band']],
        'literacy') }}
),

heads_ethnicity as (
    select submission_id, min(ethnicity_reported) as head_ethnicity
    from {{ item_checks }}
    where relationship = '0' and ethnicity_reported is not null
    group by submission_id
),

ethnicity_donors as (
    {{ donor_imputation(
        item_checks | string, 'uid', ['ethnicity_reported'],
        "ethnicity_edit_rule is not null",
        'is_counted and ethnicity_reported is not null',
        [['township_code'], ['county_code'], ['household_type']],
        'ethnicity') }}
),

items_imputed as (
    select
        i.*,
        case
            when i.education_edit_rule = 'E07_education_under_3' then null
            -- no donor anywhere in the census for this age band (tiny censuses): the highest level the age allows
            when i.education_edit_rule is not null
                then coalesce(ed.education_reported, cast({{ max_education_for_age('i.age') }} as {{ text_type() }}))
            else i.education_reported
        end as education_after_imputation,
        case when i.literate_rule_before_education = 'E10_literacy_under_15' then null
             when i.literate_rule_before_education = 'E11_literacy_missing' then coalesce(ld.literate_form, '1')
             else i.literate_form end as literate_after_imputation,
        coalesce(i.ethnicity_reported, h.head_ethnicity, et.ethnicity_reported, '01') as ethnicity
    from {{ item_checks }} as i
    left join education_donors as ed on ed.uid = i.uid
    left join literacy_donors as ld on ld.uid = i.uid
    left join heads_ethnicity as h on h.submission_id = i.submission_id
    left join ethnicity_donors as et on et.uid = i.uid
),

literacy_consistent as (
    select
        *,
        education_after_imputation as education,
        case when literate_after_imputation = '2' and cast(education_after_imputation as integer) >= 5 then '1'
             else literate_after_imputation end as literate,
        coalesce(literate_rule_before_education,
                 case when literate_after_imputation = '2' and cast(education_after_imputation as integer) >= 5
                      then 'E12_illiterate_with_schooling' end) as literate_edit_rule
    from items_imputed
),

{#- Relationships, among the counted members of each household. A collective household
    without a head gets its first line as head; a family household without a counted head gets
    its first counted member; of two or more counted heads the first stays head.

    The household facts (first lines, counted heads, the head's age) are aggregates that read
    int_person_edit_items itself, and each step below is read once: a CTE of 12 M rows read
    twice is materialized whole (at 12 M persons that was two thirds of this model's time).
    The two relationship steps are written once (step1, step2) and used by both. -#}
{%- set step1 -%}
    case when r.relationship is null and r.household_type = '2' and r.person_index = f.first_index then '0'
         when r.relationship is null then '9'
         else r.relationship end
{%- endset %}
{#- a counted head after the household's first counted head -#}
{%- set extra_head -%}
    coalesce(r.is_counted and {{ step1 }} = '0' and r.person_index > c.first_head_index, false)
{%- endset %}
{%- set step2 -%}
    case when r.household_type = '1' and r.is_counted and coalesce(c.heads_counted, 0) = 0
              and r.person_index = f.first_counted_index then '0'
         when r.household_type = '1' and {{ extra_head }} then '9'
         else {{ step1 }} end
{%- endset %}
first_lines as (
    select submission_id, min(person_index) as first_index,
           min(case when is_counted then person_index end) as first_counted_index
    from {{ item_checks }}
    group by submission_id
),

counted_heads as (
    select r.submission_id, count(*) as heads_counted, min(r.person_index) as first_head_index
    from {{ item_checks }} as r
    inner join first_lines as f on f.submission_id = r.submission_id
    where r.is_counted and {{ step1 }} = '0'
    group by r.submission_id
),

head_ages as (
    select r.submission_id, min(r.age) as head_age
    from {{ item_checks }} as r
    inner join first_lines as f on f.submission_id = r.submission_id
    left join counted_heads as c on c.submission_id = r.submission_id
    where r.is_counted and {{ step2 }} = '0'
    group by r.submission_id
),

heads_fixed as (
    select
        r.*,
        coalesce(c.heads_counted, 0) as heads_counted,
        f.first_counted_index,
        {{ extra_head }} as is_extra_head,
        {{ step2 }} as relationship_step2
    from literacy_consistent as r
    inner join first_lines as f on f.submission_id = r.submission_id
    left join counted_heads as c on c.submission_id = r.submission_id
),

edits as (
    select
        h.submission_id, h.person_index, h.uid, h.birth_year, h.birth_month, h.birth_edit_rule, h.age, h.age_band,
        h.sex, h.sex_edit_rule, h.education_edit_rule, h.ethnicity_edit_rule, h.ethnicity, h.education, h.literate,
        h.literate_edit_rule,
        case
            when h.household_type = '1' and h.is_counted and h.relationship_step2 = '1' and h.age < 18 then '9'
            when h.household_type = '1' and h.is_counted and h.relationship_step2 = '2' and a.head_age - h.age < 12 then '9'
            when h.household_type = '1' and h.is_counted and h.relationship_step2 = '3' and h.age - a.head_age < 12 then '9'
            else h.relationship_step2
        end as relationship_final,
        case
            when h.relationship is null then 'E06_relationship_missing'
            when h.household_type = '1' and h.is_counted and h.heads_counted = 0 and h.person_index = h.first_counted_index
                then 'E01_no_head'
            when h.household_type = '1' and h.is_extra_head
                then 'E02_two_heads'
            when h.household_type = '1' and h.is_counted and h.relationship_step2 = '1' and h.age < 18
                then 'E03_spouse_under_18'
            when h.household_type = '1' and h.is_counted and h.relationship_step2 = '2' and a.head_age - h.age < 12
                then 'E04_child_too_old'
            when h.household_type = '1' and h.is_counted and h.relationship_step2 = '3' and h.age - a.head_age < 12
                then 'E05_parent_too_young'
        end as relationship_edit_rule
    from heads_fixed as h
    left join head_ages as a on a.submission_id = h.submission_id
),

final as (
    select
        p.*,
        {{ star_except(['submission_id', 'person_index'], 'e.') }},
        case
            when p.hukou_place = '4' and not {{ is_valid_hukou_region('p.hukou_region_code') }}
                then 'E16_hukou_region_invalid'
            when p.hukou_place in ('3', '4') and p.left_hukou_duration is null then 'E17_hukou_duration_missing'
        end as hukou_flag_rule
    from persons as p
    inner join edits as e on e.submission_id = p.submission_id and e.person_index = p.person_index
)

select * from final
