"""Asset metadata shared by the stages: row counts and column schemas read from the warehouse."""

from __future__ import annotations

import dagster as dg


def table_metadata(con, table: str) -> dict:
    """`dagster/row_count` and `dagster/column_schema` of a warehouse table."""
    n = con.execute(f"select count(*) from {table}").fetchone()[0]
    cols = con.execute(f"describe {table}").fetchall()
    schema = dg.TableSchema(columns=[dg.TableColumn(name=c[0], type=str(c[1])) for c in cols])
    return {"dagster/row_count": dg.MetadataValue.int(int(n)), "dagster/column_schema": schema}
