{#- Keyed pseudonym: HMAC-SHA256(key, value), hex. The key's pads are session variables
    set by census_pipeline/dbt_plugin.py; a plain hash would be reversible by trying every
    ID number, an HMAC without the key is not. -#}
{% macro pseudonym(expr) -%}
    {{ return(adapter.dispatch('pseudonym', 'census')(expr)) }}
{%- endmacro %}
{% macro default__pseudonym(expr) -%}
    sha256(getvariable('census_hmac_opad') || unhex(sha256(getvariable('census_hmac_ipad') || encode({{ expr }}))))
{%- endmacro %}
{#- Spark: the same HMAC, computed by a function census_pipeline/spark_dbt.py registers in the
    session; the key never leaves that process. -#}
{% macro spark__pseudonym(expr) -%}
    census_pseudonym({{ expr }})
{%- endmacro %}
