{#- Household registration (户籍) against the census, by the township of registration: active
    registrants born before the standard time; found and counted in their own township; found
    in the census but counted elsewhere or not counted; not found (omission candidates); and the
    households' H3 "registered here, living elsewhere" count for comparison. Deterministic links
    (valid ID, then name + sex + birth date). One row per township, county and the city. -#}
with registrants as (
    select m.*, l.link_method
    from {{ ref('int_registrants_matched') }} as m
    left join {{ ref('int_register_links') }} as l on l.person_no = m.person_no
),

h3 as (
    select township_code, sum(h_hukou_absent_count) as n
    from {{ ref('households') }}
    group by 1
),

townships as (
    select
        r.hukou_township_code as region_code,
        'township' as level,
        count(*) as active_registrants,
        count(case when r.counted_township_code = r.hukou_township_code then 1 end) as found_counted_here,
        count(case when r.is_found and r.counted_township_code is distinct from r.hukou_township_code then 1 end)
            as found_elsewhere,
        count(case when not r.is_found then 1 end) as not_found,
        count(case when not r.is_found and r.link_method = 'probabilistic' then 1 end) as linked_probabilistically,
        count(case when not r.is_found and r.link_method = 'none' then 1 end) as not_found_after_linkage
    from registrants as r
    group by 1
),

with_h3 as (
    select t.*, coalesce(h.n, 0) as h3_registered_living_elsewhere
    from townships as t
    left join h3 as h on h.township_code = t.region_code
),

rolled as (
    select * from with_h3
    union all
    select substr(region_code, 1, 6), 'county', sum(active_registrants), sum(found_counted_here), sum(found_elsewhere),
           sum(not_found), sum(linked_probabilistically), sum(not_found_after_linkage), sum(h3_registered_living_elsewhere)
    from with_h3 group by 1
    union all
    select '{{ var('city_code') }}', 'city', sum(active_registrants), sum(found_counted_here), sum(found_elsewhere),
           sum(not_found), sum(linked_probabilistically), sum(not_found_after_linkage), sum(h3_registered_living_elsewhere)
    from with_h3
),

final as (
    select
        *,
        {{ rounded_ratio('found_counted_here + found_elsewhere', 'active_registrants', 100, 2) }} as found_pct
    from rolled
)

select * from final order by region_code
