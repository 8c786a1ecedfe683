{#- One row per registrant of the omission rule: how linkage found them in the census (valid ID
    number, probabilistic, or not at all), the census record and household, the match
    probability, and whether a clerk must look before the link is used: an ID link whose names
    or sex disagree, or a probabilistic link with a name that is not exact where a possible
    twin (same surname, birth date and township) is on either side. Restricted zone. -#}
with register as {{ not_materialized() }} (
    select * from {{ ref('int_linkage_register') }}
),

census as {{ not_materialized() }} (
    select * from {{ ref('int_linkage_census') }}
),

links as (
    select person_no, census_record_id, 'id' as link_method, cast(null as double) as match_probability,
           needs_clerical_review
    from {{ ref('int_linkage_id_links') }}
    union all
    select person_no, census_record_id, 'probabilistic', match_probability, false
    from {{ ref('int_linkage_probabilistic') }}
),

{#- possible twins: keys held by two or more records (an aggregate, not a window over 12 M rows) -#}
register_twins as (
    select surname, birth_date, township_code, true as is_twin_key
    from register
    group by surname, birth_date, township_code
    having count(*) > 1
),

census_twins as (
    select surname, birth_ym, township_code, true as is_twin_key
    from census
    group by surname, birth_ym, township_code
    having count(*) > 1
),

final as (
    select
        r.record_id as person_no,
        r.township_code as hukou_township_code,
        r.county_code as hukou_county_code,
        coalesce(l.link_method, 'none') as link_method,
        l.census_record_id,
        c.line_no as census_line_no,
        c.household_id,
        c.ea_code,
        l.match_probability,
        case when l.link_method is not null then {{ name_agreement('r', 'c') }} end as name_agreement,
        rt.is_twin_key is not null or ct.is_twin_key is not null as has_possible_twin,
        coalesce(l.needs_clerical_review, false)
            or coalesce(l.link_method = 'probabilistic' and r.name <> c.name
                        and (rt.is_twin_key is not null or ct.is_twin_key is not null), false)
                as needs_clerical_review
    from register as r
    left join links as l on l.person_no = r.record_id
    left join census as c on c.record_id = l.census_record_id
    left join register_twins as rt
        on rt.surname is not distinct from r.surname and rt.birth_date is not distinct from r.birth_date
       and rt.township_code is not distinct from r.township_code
    left join census_twins as ct
        on c.record_id is not null
       and ct.surname is not distinct from c.surname and ct.birth_ym is not distinct from c.birth_ym
       and ct.township_code is not distinct from c.township_code
)

select * from final
