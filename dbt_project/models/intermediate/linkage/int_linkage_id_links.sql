{#- Deterministic linkage: a registrant and a census record with the same valid ID number, one
    census record per registrant (the counted one first). The ID is trusted only when the names
    agree (exactly, by pinyin, or up to one given-name character) and the sex agrees; otherwise
    the link still stands (rules.md: the same valid ID is the same person) but goes to
    clerical review. Restricted zone. -#}
with register as (
    select * from {{ ref('int_linkage_register') }}
),

census as (
    select * from {{ ref('int_linkage_census') }}
    where has_valid_id
),

candidates as (
    select
        r.record_id as person_no,
        c.record_id as census_record_id,
        {{ name_agreement('r', 'c') }} as name_agreement,
        (r.sex is not distinct from c.sex) as sex_agrees,
        row_number() over (partition by r.record_id order by c.is_counted desc, c.record_id asc) as preference
    from register as r
    inner join census as c on c.id_number = r.id_number
),

final as (
    select
        person_no,
        census_record_id,
        name_agreement,
        sex_agrees,
        name_agreement = 'different' or not sex_agrees as needs_clerical_review
    from candidates
    where preference = 1
)

select * from final
