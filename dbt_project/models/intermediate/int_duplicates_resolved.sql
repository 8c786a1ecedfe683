{#- The table of resolved duplicates (restricted): every removed record and the record it
    lost to. One row per removed record. -#}
with persons as (
    select * from {{ ref('int_persons_deduplicated') }}
),

removed as (
    select * from persons where is_duplicate_removed
),

final as (
    select
        r.submission_id as removed_submission_id,
        r.person_index as removed_person_index,
        r.household_id as removed_household_id,
        r.county_code as removed_county_code,
        r.id_number,
        w.submission_id as kept_submission_id,
        w.person_index as kept_person_index,
        w.household_id as kept_household_id,
        w.county_code as kept_county_code
    from removed as r
    inner join persons as w on w.submission_id || ':' || w.person_index = r.lost_to_record
)

select * from final
