{#- Linkage quality against the generator's truth (demo censuses; raw.linkage_truth is empty
    for a real census and every figure here is then null): for the deterministic links, the
    probabilistic links on the residue, and the whole census, the links made, true and false
    links, the true pairs there were to find, precision, recall and F1 (percent). A registrant's
    true pair is any census record of the same person. Counts only: analysis zone. -#}
with truth as (
    select * from {{ ref('stg_landing__linkage_truth') }}
),

true_pairs as (
    select r.record_key as person_no, c.record_key as census_record_id
    from truth as r
    inner join truth as c on c.person = r.person and c.record_type = 'census'
    where r.record_type = 'hukou'
),

links as (
    select * from {{ ref('int_register_links') }} where link_method <> 'none'
),

judged as (
    select l.*, t.person_no is not null as is_true
    from links as l
    left join true_pairs as t on t.person_no = l.person_no and t.census_record_id = l.census_record_id
),

findable as (  -- registrants with a true census record among the records linkage sees
    select distinct t.person_no,
           t.person_no in (select record_id from {{ ref('int_linkage_register_residue') }})
           and t.census_record_id in (select record_id from {{ ref('int_linkage_census_residue') }}) as in_residue
    from true_pairs as t
    where t.person_no in (select record_id from {{ ref('int_linkage_register') }})
      and t.census_record_id in (select record_id from {{ ref('int_linkage_census') }})
),

findable_once as (
    select person_no, max(case when in_residue then 1 else 0 end) = 1 as in_residue
    from findable group by person_no
),

scopes as (
    select 'deterministic (valid ID)' as scope, 1 as scope_order,
           count(*) as links, count(case when is_true then 1 end) as true_links,
           (select count(*) from findable_once) as true_pairs,
           count(case when not is_true and not needs_clerical_review then 1 end) as false_links_unflagged
    from judged where link_method = 'id'
    union all
    select 'probabilistic (residue)', 2, count(*), count(case when is_true then 1 end),
           (select count(*) from findable_once where in_residue),
           count(case when not is_true and not needs_clerical_review then 1 end)
    from judged where link_method = 'probabilistic'
    union all
    select 'whole census', 3, count(*), count(case when is_true then 1 end),
           (select count(*) from findable_once),
           count(case when not is_true and not needs_clerical_review then 1 end)
    from judged
),

truth_flag as (
    select count(*) > 0 as truth_available from truth
),

final as (
    select
        s.scope,
        s.scope_order,
        f.truth_available,
        s.links,
        case when f.truth_available then s.links - s.true_links end as false_links,
        case when f.truth_available then s.false_links_unflagged end as false_links_unflagged,
        case when f.truth_available then s.true_pairs end as true_pairs,
        case when f.truth_available then s.true_links end as true_links,
        case when f.truth_available then {{ rounded_ratio('s.true_links', 's.links', 100, 3) }} end as precision_pct,
        case when f.truth_available then {{ rounded_ratio('s.true_links', 's.true_pairs', 100, 3) }} end as recall_pct,
        case when f.truth_available then {{ rounded_ratio('2 * s.true_links', 's.links + s.true_pairs', 100, 3) }} end
            as f1_pct
    from scopes as s
    cross join truth_flag as f
)

select * from final order by scope_order
