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

{#- int_register_links has the registrants of the omission rule: active and born before the
    standard time. The other active records (born on or after 11-01, or with no readable birth
    date) are never looked for: they are added unlinked here, which spares a join of the whole
    register (~9 M rows at Hangzhou's size) to the links. -#}
not_looked_for as (
    select person_no
    from registrants
    where is_active and not coalesce(birth_date < date '{{ var("standard_time") }}', false)
),

outcomes as (
    select
        person_no,
        link_method as method,
        census_record_id,
        census_line_no,
        match_probability,
        needs_clerical_review as clerical_review
    from links
    union all
    select person_no, 'none', null, null, null, false
    from not_looked_for
),

{#- census_record_id is the person line's uid, submission_id || ':' || person_index (its position
    in persons[]); line_no is the entry's own key, carried from the line by int_register_links,
    never taken to be the position. (Joining the 12 M person lines here instead would cost
    seconds at Hangzhou's size.) -#}
final as (
    select
        person_no,
        {{ record_id_part('census_record_id', 1) }} as submission_id,
        census_line_no as line_no,
        method,
        match_probability,
        clerical_review,
        cast({{ record_id_part("census_record_id", 2) }} as bigint) as person_index
    from outcomes
)

select * from final
