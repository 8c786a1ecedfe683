{#- Bulletin rows: one for the city (330100) and one per county with at least one counted
    person, ordered by region_code, region_code and region_name first (outputs.md).
    `measures` maps each count column to its SQL aggregate over `relation`. -#}
{% macro city_and_county_rows(relation, measures) %}
    with by_county as (
        select county_code as region_code,
        {%- for name, agg in measures.items() %}
               {{ agg }} as {{ name }}{{ "," if not loop.last }}
        {%- endfor %}
        from {{ relation }}
        group by county_code
    ),
    city as (
        select '{{ var('city_code') }}' as region_code,
        {%- for name, agg in measures.items() %}
               {{ agg }} as {{ name }}{{ "," if not loop.last }}
        {%- endfor %}
        from {{ relation }}
    ),
    counts as (
        select * from city
        union all
        select * from by_county
    )
    select r.name_zh as region_name, c.*
    from counts as c
    inner join {{ ref('regions') }} as r on cast(r.code as {{ text_type() }}) = c.region_code
{% endmacro %}

{#- One row per county of codes/regions.csv and one for the city (their sum), from relations
    holding a count `n` per `county_code`: {column name: relation}. A county with no row counts 0. -#}
{% macro county_and_city_counts(counts) %}
    with counties as (
        select
            cast(r.code as {{ text_type() }}) as region_code,
            r.name_zh as region_name
            {%- for name, relation in counts.items() %},
            coalesce((select sum(n) from {{ relation }} as x where x.county_code = cast(r.code as {{ text_type() }})), 0) as {{ name }}
            {%- endfor %}
        from {{ ref('regions') }} as r
        where r.level <> 'city'
    )
    select * from counties
    union all
    select cast(city.code as {{ text_type() }}), city.name_zh{% for name in counts %}, (select sum({{ name }}) from counties){% endfor %}
    from {{ ref('regions') }} as city
    where cast(city.code as {{ text_type() }}) = '{{ var('city_code') }}'
{% endmacro %}
