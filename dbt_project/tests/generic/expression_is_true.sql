{#- Rows where an accounting identity or rule fails (dbt_utils-style, without the package). -#}
{% test expression_is_true(model, expression) %}
select * from {{ model }} where not ({{ expression }})
{% endtest %}
