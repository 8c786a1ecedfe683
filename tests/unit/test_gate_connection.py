"""A quality gate reads the warehouse on one connection and closes it before it returns: DuckDB
lets no writer in while any reader holds the file (docs/adr/0001), so a pooled connection left
open by GX would make the next dbt build fail on the lock."""

import duckdb

from census_pipeline.resources.expectations import GreatExpectations


def test_a_gate_leaves_no_connection_open(tmp_path):
    wh = str(tmp_path / "warehouse.duckdb")
    con = duckdb.connect(wh)
    con.execute("create schema microdata")
    con.execute("""create table microdata.households as select * from (values
        ('H1', '1', 3, true), ('H2', '2', 40, true), ('H3', '1', 0, false))
        t(household_id, household_type, persons_counted, is_counted)""")
    con.close()
    result = GreatExpectations(warehouse_path=wh, output_dir=str(tmp_path / "out")).validate(
        "microdata__households", "select * from microdata.households", "household_id")
    assert [o.success for o in result.outcomes] == [True] * 4
    writer = duckdb.connect(wh)  # in this process too: DuckDB refuses a second configuration of an open file
    writer.execute("insert into microdata.households values ('H4', '1', 1, true)")
    writer.close()
