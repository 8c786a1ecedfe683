"""Asset metadata shared by the stages: row counts and column schemas read from the warehouse."""

from __future__ import annotations

import dagster as dg


def table_metadata(con, table: str, described: dg.TableSchema | None = None) -> dict:
    """`dagster/row_count` (tables only: counting a view recomputes it) and `dagster/column_schema`
    with the warehouse's types and, where the definition has them (dbt YAML), the descriptions."""
    schema_name, name = table.split(".")
    kind = con.execute("select table_type from information_schema.tables where table_schema = ? and table_name = ?",
                       [schema_name, name]).fetchall()
    cols = con.execute(f"describe {table}").fetchall()
    descriptions = {c.name: c.description for c in (described.columns if described else []) if c.description}
    meta = {"dagster/column_schema": dg.TableSchema(columns=[
        dg.TableColumn(name=c[0], type=str(c[1]), description=descriptions.get(c[0])) for c in cols])}
    if kind and kind[0][0] == "BASE TABLE":
        n = con.execute(f"select count(*) from {table}").fetchone()[0]
        meta["dagster/row_count"] = dg.MetadataValue.int(int(n))
    return meta
