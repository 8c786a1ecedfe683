{{ config(materialized="view") }}
{#- One row per person line with its counted flag after duplicate removal: the line's own
    resident-rule decision unless int_duplicate_survivors decided it (rules.md, 不重). A view:
    the decisions are a small table joined on, and the wide person lines are not copied. -#}
with persons as (
    select * from {{ ref('int_persons_resident') }}
),

decisions as (
    select * from {{ ref('int_duplicate_survivors') }}
),

final as (
    select
        p.*,
        coalesce(d.is_counted, p.counts_here) as is_counted,
        coalesce(d.is_duplicate_removed, false) as is_duplicate_removed,
        coalesce(d.counted_as_only_residence_record, false) as counted_as_only_residence_record,
        case when d.is_duplicate_removed then d.lost_to_submission_id || ':' || d.lost_to_person_index end
            as lost_to_record
    from persons as p
    left join decisions as d on d.submission_id = p.submission_id and d.person_index = p.person_index
)

select * from final
