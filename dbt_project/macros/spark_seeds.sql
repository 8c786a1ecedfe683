{#- Spark only: dbt-spark's session mode pastes a seed's values into its insert unescaped, so a
    code list whose label holds an apostrophe ("residents' committee") breaks the statement.
    Here each value is written as an escaped literal (Spark reads a backslash in a string literal
    as an escape, so it is doubled too); null stays null. -#}
{% macro spark__load_csv_rows(model, agate_table) %}
  {%- set column_override = model['config'].get('column_types', {}) -%}
  {%- set statements = [] -%}
  {%- for chunk in agate_table.rows | batch(get_batch_size()) %}
    {%- set sql %}
      insert into {{ this.render() }} values
      {% for row in chunk -%}
        ({%- for col_name in agate_table.column_names -%}
          {%- set type = column_override.get(col_name, adapter.convert_type(agate_table, loop.index0)) -%}
          {%- set value = row[loop.index0] -%}
          {%- if value is none -%}cast(null as {{ type }})
          {%- else -%}cast('{{ value | string | replace("\\", "\\\\") | replace("'", "\\'") }}' as {{ type }})
          {%- endif -%}
          {%- if not loop.last %},{% endif -%}
        {%- endfor -%}){%- if not loop.last %},{% endif %}
      {% endfor %}
    {%- endset %}
    {%- do adapter.add_query(sql, abridge_sql_log=True) -%}
    {%- if loop.first %}{% do statements.append(sql) %}{% endif -%}
  {%- endfor %}
  {{ return(statements[0]) }}
{% endmacro %}
