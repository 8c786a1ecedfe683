{#- Traceability (可追溯、可问责): one row per enumerator and EA. Households are attributed
    to the enumerator of their authoritative submission; submissions to whoever sent them. -#}
with submissions as (
    select * from {{ ref('stg_landing__household_submissions') }}
    where enumerator_id is not null
),

households as (
    select * from {{ ref('int_households_resolved') }}
),

persons as (
    select * from {{ ref('persons') }}
),

sent as (
    select
        s.enumerator_id,
        s.ea_code,
        count(*) as submissions,
        count(case when h.submission_id is null then 1 end) as superseded_submissions,
        count(case when s.submitted_at >= {{ instant_literal('2020-11-16 00:00:00+08') }} then 1 end) as late_submissions
    from submissions as s
    left join households as h on h.submission_id = s.submission_id
    group by 1, 2
),

person_quality as (
    select
        h.enumerator_id,
        h.ea_code,
        count(distinct case when h.status = 'final' then h.household_id end) as households_completed,
        count(case when p.is_counted then 1 end) as persons_counted,
        count(case when p.is_counted and (p.relationship_edit_rule is not null or p.education_edit_rule is not null
                                          or p.literate_edit_rule is not null or p.ethnicity_edit_rule is not null
                                          or p.sex_edit_rule is not null or p.birth_edit_rule is not null) then 1 end)
            as persons_with_edits,
        count(case when p.is_counted and (p.education_edit_rule in ('E08_education_above_age', 'E09_education_missing')
                                          or p.literate_edit_rule = 'E11_literacy_missing'
                                          or p.ethnicity_edit_rule is not null or p.sex_edit_rule = 'E14_sex_missing'
                                          or p.birth_edit_rule = 'E15_birth_missing') then 1 end) as persons_imputed,
        count(case when p.is_duplicate_removed then 1 end) as duplicates
    from households as h
    left join persons as p on p.household_id = h.household_id
    where h.enumerator_id is not null
    group by 1, 2
),

final as (
    select
        s.enumerator_id,
        s.ea_code,
        substr(s.ea_code, 1, 9) as township_code,
        s.submissions,
        coalesce(q.households_completed, 0) as households_completed,
        coalesce(q.persons_counted, 0) as persons_counted,
        {{ rounded_ratio('coalesce(q.persons_with_edits, 0)', 'coalesce(q.persons_counted, 0)', 100, 2) }} as edit_failure_pct,
        {{ rounded_ratio('coalesce(q.persons_imputed, 0)', 'coalesce(q.persons_counted, 0)', 100, 2) }} as imputation_pct,
        coalesce(q.duplicates, 0) as duplicates,
        s.superseded_submissions,
        s.late_submissions
    from sent as s
    left join person_quality as q on q.enumerator_id = s.enumerator_id and q.ea_code = s.ea_code
)

select * from final order by enumerator_id, ea_code
