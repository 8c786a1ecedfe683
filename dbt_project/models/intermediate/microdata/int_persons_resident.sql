{{ config(materialized="view") }}
{#- A view: row-by-row rules read once by int_persons_deduplicated; writing a second copy of
    every wide person row cost more than computing the clause again. -#}
{#- The resident population rule (常住人口, rules.md), applied to each person line as
    reported (residence and hukou items are never imputed): whether the line counts in the
    township of its household's EA, the clause that decided it, and a flag where the rule's
    fallback for missing or contradictory items was used. -#}
with persons as (
    select * from {{ ref('int_persons_items') }}
),

ruled as (
    select
        *,
        case
            when is_born_after_standard_time then 'born_after_standard_time'
            when id_type in ('2', '3') then 'hk_macao_taiwan_or_foreign'
            when residence = '1' and hukou_place in ('1', '2', '5') then 'lives_here_hukou_here'
            when residence = '1' and cast(left_hukou_duration as integer) >= 3 then 'lives_here_away_from_hukou_6m_plus'
            when residence = '1' and hukou_place in ('3', '4') and left_hukou_duration = '2'
                then 'lives_here_less_than_6m_counts_at_hukou_place'
            when residence = '1' then 'lives_here_hukou_contradictory'
            when left_hukou_duration = '2' then 'registered_here_away_less_than_6m'
            when residence = '6' and left_hukou_reason in ('1', '2') then 'registered_here_abroad_work_or_study'
            else 'registered_here_living_elsewhere'
        end as resident_rule
    from persons
),

final as (
    select
        *,
        resident_rule in (
            'lives_here_hukou_here', 'lives_here_away_from_hukou_6m_plus', 'lives_here_hukou_contradictory',
            'registered_here_away_less_than_6m', 'registered_here_abroad_work_or_study'
        ) as counts_here,
        resident_rule = 'lives_here_hukou_contradictory'
            or (residence is null and resident_rule not in ('born_after_standard_time', 'hk_macao_taiwan_or_foreign'))
            as resident_rule_flagged
    from ruled
)

select * from final
