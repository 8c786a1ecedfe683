{#- The linkage audit (outputs.md): one row per active household-registration record (status 1),
    the census person line linkage tied it to (submission_id and the person entry's own line_no;
    last, its position in persons[]), how (id, probabilistic, none), the match probability and
    whether a clerk must look. Restricted zone: it joins register and census identities. -#}
with links as (
    select * from {{ ref('int_register_links') }}
),

registrants as (
    select * from {{ ref('stg_registers__hukou_registrants') }}
),

person_lines as (
    select * from {{ ref('int_persons_edited') }}
),

{#- int_register_links has the registrants of the omission rule: active and born before the
    standard time. The other active records (born on or after 11-01, or with no readable birth
    date) are never looked for: they are added unlinked here, which spares a join of the whole
    register (~9 M rows at Hangzhou's size) to the links. -#}
not_looked_for as (
    select person_no
    from registrants
    where is_active and not coalesce(birth_date < date '2020-11-01', false)
),

outcomes as (
    select
        person_no,
        link_method as method,
        census_record_id,
        match_probability,
        needs_clerical_review as clerical_review
    from links
    union all
    select person_no, 'none', null, null, false
    from not_looked_for
),

{#- census_record_id is the person line's uid, submission_id || ':' || person_index (its position
    in persons[]); line_no is the entry's own key, read from the line, never taken to be the position -#}
final as (
    select
        o.person_no,
        p.submission_id,
        p.line_no,
        o.method,
        o.match_probability,
        o.clerical_review,
        p.person_index
    from outcomes as o
    left join person_lines as p on p.uid = o.census_record_id
)

select * from final
