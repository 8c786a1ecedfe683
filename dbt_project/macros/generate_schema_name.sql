{#- Schemas are the census zones themselves (raw, staging, microdata, quality, bulletin),
    not "<target>_<schema>" as dbt would name them by default. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ custom_schema_name if custom_schema_name else target.schema }}
{%- endmacro %}
