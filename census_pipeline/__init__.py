"""Population census processing pipeline (Dagster + dbt-duckdb + Great Expectations)."""
