{#- PES persons matched on the valid ID number to a counted census record anywhere in the city
    (the ID finds a person the census counted in another EA). The census record's names must
    agree (exact, pinyin or one character) for the match to be trusted without review. -#}
with pes as (
    select * from {{ ref('int_pes_persons') }} where has_valid_id
),

census as (
    select * from {{ ref('int_linkage_census') }} where is_counted and has_valid_id
),

candidates as (
    select
        p.record_id as person_no,
        c.record_id as census_record_id,
        {{ name_agreement('p', 'c') }} = 'different' as needs_clerical_review,
        row_number() over (partition by p.record_id order by c.record_id) as preference
    from pes as p
    inner join census as c on c.id_number = p.id_number
)

select person_no, census_record_id, needs_clerical_review from candidates where preference = 1
