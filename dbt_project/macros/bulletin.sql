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
        select '330100' as region_code,
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
    inner join {{ ref('regions') }} as r on cast(r.code as varchar) = c.region_code
{% endmacro %}
