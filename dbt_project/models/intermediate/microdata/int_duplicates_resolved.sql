{#- The table of resolved duplicates (restricted): every removed record and the record it
    lost to. One row per removed record. -#}
with removed as (
    select * from {{ ref('int_duplicate_survivors') }}
    where is_duplicate_removed
),

final as (
    select
        r.submission_id as removed_submission_id,
        r.person_index as removed_person_index,
        l.household_id as removed_household_id,
        l.county_code as removed_county_code,
        l.id_number,
        r.lost_to_submission_id as kept_submission_id,
        r.lost_to_person_index as kept_person_index,
        w.household_id as kept_household_id,
        w.county_code as kept_county_code
    from removed as r
    inner join {{ ref('int_persons_resident') }} as l
        on l.submission_id = r.submission_id and l.person_index = r.person_index
    inner join {{ ref('int_persons_resident') }} as w
        on w.submission_id = r.lost_to_submission_id and w.person_index = r.lost_to_person_index
)

select * from final
