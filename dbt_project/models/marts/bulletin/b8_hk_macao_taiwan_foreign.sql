{#- 公报 table 8 (as communiqué No. 8): residents of Hong Kong, Macao and Taiwan (id_type 2) and
    foreigners (3) living here at the standard time, outside the resident population. Rows: the
    city and every county with a non-zero cell. -#}
with enumerated as (
    select county_code, id_type
    from {{ ref('persons') }}
    where id_type in ('2', '3') and residence = '1' and not is_born_after_standard_time
),

counts as (
    {{ city_and_county_rows('enumerated', {
        'hk_macao_taiwan': "count(case when id_type = '2' then 1 end)",
        'foreign_residents': "count(case when id_type = '3' then 1 end)",
    }) }}
),

final as (
    select region_code, region_name, hk_macao_taiwan, foreign_residents as {{ adapter.quote("foreign") }}
    from counts
    where region_code = '{{ var('city_code') }}' or hk_macao_taiwan + foreign_residents > 0
)

select * from final order by region_code
