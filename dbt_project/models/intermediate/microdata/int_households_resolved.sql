{#- Which submission counts (rules.md, supersession): per household_id, the latest final
    submission (a long form outranks a short one, then the later submitted_at, then the larger
    submission_id); with no final one, the latest partial or pre-registration, and the household
    goes on the follow-up list. EA, county, urban/rural class and household type follow. -#}
with submissions as (
    select * from {{ ref('stg_landing__household_submissions') }}
),

frame as {{ not_materialized() }} (  -- read three times: a copy of the frame would cost more than the reads
    select * from {{ ref('stg_landing__listing_frame') }}
),

urban_rural as (
    select * from {{ ref('urban_rural') }}
),

ranked as (
    select
        *,
        row_number() over (
            partition by household_id
            order by
                case when status = 'final' then 0 else 1 end,
                case when status = 'final' and form = 'long' then 0 else 1 end,
                submitted_at desc,
                submission_id desc
        ) as authority_rank,
        count(*) over (partition by household_id) as submissions_received,
        max(case when status = 'final' then 1 else 0 end) over (partition by household_id) = 1 as has_final
    from submissions
),

ea_classes as (
    select ea_code, min(urban_rural_code) as urban_rural_code
    from frame
    where urban_rural_code in (select cast(code as {{ text_type() }}) from urban_rural)
    group by ea_code
),

village_classes as (
    select substr(ea_code, 1, 12) as village_code, min(urban_rural_code) as urban_rural_code
    from frame
    where urban_rural_code in (select cast(code as {{ text_type() }}) from urban_rural)
    group by substr(ea_code, 1, 12)
),

final as (
    select
        a.household_id,
        a.submission_id,
        a.status,
        a.form,
        a.channel,
        a.submitted_at,
        a.enumerator_id,
        a.ea_code,
        a.county_code,
        a.township_code,
        a.village_code,
        coalesce(a.household_type, case when f.household_type in ('1', '2') then f.household_type end, '1')
            as household_type,
        case when a.household_type is null then 'E18_household_type' end as household_type_edit_rule,
        coalesce(e.urban_rural_code, v.urban_rural_code, '220') as urban_rural_code,
        e.urban_rural_code is null and v.urban_rural_code is null as urban_rural_defaulted,
        f.household_id is not null as is_listed,
        a.has_final,
        a.submissions_received,
        a.h_resident_count,
        a.h_hukou_absent_count,
        a.h_births_male,
        a.h_births_female,
        a.h_deaths_male,
        a.h_deaths_female
    from ranked as a
    left join frame as f on f.household_id = a.household_id
    left join ea_classes as e on e.ea_code = a.ea_code
    left join village_classes as v on v.village_code = a.village_code
    where a.authority_rank = 1
)

select * from final
