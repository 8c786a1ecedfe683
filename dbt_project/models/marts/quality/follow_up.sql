{#- The follow-up list for enumerators (补登/复查): one row per case, with the household, its
    EA and enumerator, and what to check. No names, no ID numbers. -#}
with households as (
    select * from {{ ref('households') }}
),

submissions as (
    select * from {{ ref('stg_landing__household_submissions') }}
),

frame as (
    select * from {{ ref('stg_landing__listing_frame') }}
),

persons as (
    select * from {{ ref('persons') }}
),

registrants as (
    select m.*, l.link_method, l.household_id as linked_household_id, l.ea_code as linked_ea_code, l.match_probability
    from {{ ref('int_registrants_matched') }} as m
    left join {{ ref('int_register_links') }} as l on l.person_no = m.person_no
),

clerical_reviews as (
    select * from {{ ref('int_register_links') }} where needs_clerical_review
),

ea_enumerators as (
    select ea_code, min(enumerator_id) as enumerator_id
    from submissions
    where enumerator_id is not null
    group by ea_code
),

enumerator_of_household as (
    select household_id, max(enumerator_id) as enumerator_id
    from submissions
    group by household_id
),

cases as (
    select 'missing_household' as case_type, f.household_id, f.ea_code,
           'listed with ' || coalesce(cast(f.expected_persons as {{ text_type() }}), '?') || ' persons; no accepted submission'
               as detail
    from frame as f
    where f.household_id is not null  -- (NOT EXISTS, not NOT IN: Spark's nested loop; a null id was never a case)
      and not exists (select 1 from submissions as s where s.household_id = f.household_id)

    union all
    select 'no_final_submission', household_id, ea_code,
           'only a ' || submission_status || ' submission arrived: visit to complete the form'
    from households
    where not has_final

    union all
    select 'fewer_person_lines_than_h3', household_id, ea_code,
           'H3 says ' || h_resident_count || ' living here and ' || h_hukou_absent_count || ' registered here but away; '
           || 'person lines: ' || resident_lines || ' and ' || other_lines
    from households
    where has_fewer_lines_than_h3

    union all
    select 'duplicate_none_counted', household_id, ea_code,
           'person ' || left(person_key, 12) || ' has several records and none counts by the resident rule; '
           || 'counted here (residence 1): confirm'
    from persons
    where counted_as_only_residence_record
),

with_enumerators as (
    select
        c.case_type,
        c.household_id,
        c.ea_code,
        coalesce(h.enumerator_id, e.enumerator_id) as enumerator_id,
        c.detail
    from cases as c
    left join enumerator_of_household as h on h.household_id = c.household_id
    left join ea_enumerators as e on e.ea_code = c.ea_code
),

register_cases as (
    select
        'register_person_not_found' as case_type,
        r.linked_household_id as household_id,
        r.linked_ea_code as ea_code,
        e.enumerator_id,
        'registrant ' || left({{ pseudonym("'id:' || r.id_number") }}, 12) || ' of township ' || r.hukou_township_code
            || ' found nowhere in the census by ID or name, sex and birth date'
            || case when r.link_method = 'probabilistic'
                    then '; probable match (p = ' || cast(round(r.match_probability, 4) as {{ text_type() }})
                         || ') in this household: confirm'
                    else '' end as detail
    from registrants as r
    left join enumerator_of_household as e on e.household_id = r.linked_household_id
    where not r.is_found

    union all
    select
        'linkage_clerical_review',
        c.household_id,
        c.ea_code,
        e.enumerator_id,
        'registrant of township ' || c.hukou_township_code || ' linked by ' || c.link_method
            || ' with names ' || coalesce(c.name_agreement, '?')
            || case when c.has_possible_twin then '; a possible twin (same surname, birth, township)' else '' end
            || ': confirm before the link is used'
    from clerical_reviews as c
    left join enumerator_of_household as e on e.household_id = c.household_id
),

final as (
    select * from with_enumerators
    union all
    select * from register_cases
)

select * from final
