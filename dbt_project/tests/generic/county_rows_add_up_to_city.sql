{#- The county rows of a bulletin table add up to its city row, column by column. -#}
{% test county_rows_add_up_to_city(model, columns) %}
with sums as (
    select
        {% for c in columns %}
        sum(case when region_code <> '{{ var('city_code') }}' then {{ c }} else 0 end) as county_{{ loop.index }},
        sum(case when region_code = '{{ var('city_code') }}' then {{ c }} else 0 end) as city_{{ loop.index }}{{ "," if not loop.last }}
        {% endfor %}
    from {{ model }}
)
select * from sums where {% for c in columns %}county_{{ loop.index }} <> city_{{ loop.index }}{{ " or " if not loop.last }}{% endfor %}
{% endtest %}
