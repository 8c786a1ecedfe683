{#- Duplicates (不重, rules.md): records with the same valid ID number are one person. When
    the person counts more than once, exactly one record survives: residence 1 first, then a
    final submission, the later submitted_at, the larger submission_id, the smaller line_no.
    When a person has two or more records and none counts, the residence-1 record counts,
    flagged for follow-up. Records without a valid ID are never removed here.

    One row per record that takes part (it shares a valid ID and counts, or is the residence-1
    record of an ID nobody counts under), with its decision: a small, narrow table, so the
    person lines themselves are never copied or sorted for it (int_persons_deduplicated is a
    view that joins it on). -#}
with with_valid_id as {{ not_materialized() }} (  -- read twice: inlined, each read takes its columns from the table
    select submission_id, person_index, id_number, counts_here, residence, is_born_after_standard_time,
           submission_status, submitted_at, line_no
    from {{ ref('int_persons_resident') }}
    where has_valid_id
),

id_groups as (
    select
        id_number,
        sum(case when counts_here then 1 else 0 end) as records_counting
    from with_valid_id
    group by id_number
    having count(*) > 1
),

candidates as (
    select
        p.submission_id,
        p.person_index,
        p.counts_here,
        g.records_counting,
        row_number() over survivor_order as survivor_rank,
        first_value(p.submission_id) over survivor_order as survivor_submission_id,
        first_value(p.person_index) over survivor_order as survivor_person_index
    from with_valid_id as p
    inner join id_groups as g on g.id_number = p.id_number
    where (g.records_counting > 1 and p.counts_here)
       or (g.records_counting = 0 and p.residence = '1' and not p.is_born_after_standard_time)
    window survivor_order as (
        partition by p.id_number
        order by
            case when p.residence = '1' then 0 else 1 end,
            case when p.submission_status = 'final' then 0 else 1 end,
            p.submitted_at desc,
            p.submission_id desc,
            p.line_no asc nulls last,
            p.person_index asc
    )
),

final as (
    select
        submission_id,
        person_index,
        case
            when records_counting > 1 and survivor_rank > 1 then false
            when records_counting = 0 and survivor_rank = 1 then true
            else counts_here
        end as is_counted,
        records_counting > 1 and survivor_rank > 1 as is_duplicate_removed,
        records_counting = 0 and survivor_rank = 1 as counted_as_only_residence_record,
        case when records_counting > 1 and survivor_rank > 1 then survivor_submission_id end as lost_to_submission_id,
        case when records_counting > 1 and survivor_rank > 1 then survivor_person_index end as lost_to_person_index
    from candidates
)

select * from final
