"""The census_ingest_by_county job, as a data engineer runs it: one county first, then the rest
from the command line; the warehouse then holds what `census run`'s one-step ingestion makes of
the same landing zone, and every file's lines balance at each point (the waiting ones counted)."""

import os

import duckdb

from census_pipeline.defs.ingestion import ingest
from census_pipeline.runner import ingest_by_county
from tests.builders import census_cli
from tests.unit.test_ingest_by_county import TABLES, tables


def test_one_county_then_the_rest_from_the_command_line_give_the_one_step_tables(small_census, locations, tmp_path):
    landing, _ = small_census
    env = locations(landing)
    with duckdb.connect(str(tmp_path / "one_step.duckdb")) as con:
        ingest.ingest_submissions(con, landing, "uploads", ("pad", "self"))
        expected = tables(con)

    first = ingest_by_county(["330106"])
    assert first.success
    steps = sorted({e.step_key for e in first.all_events if e.is_step_success})
    assert steps == ["ingest_county[330106]", "merge_counties", "route_uploads"]
    with duckdb.connect(env["CENSUS_WAREHOUSE"], read_only=True) as con:
        waiting = {r[0] for r in con.execute("select distinct county_code from raw.file_counties "
                                             "where merged_at is null").fetchall()}
        merged = {r[0] for r in con.execute("select distinct county_code from raw.file_counties "
                                            "where merged_at is not null").fetchall()}
        in_tables = {r[0] for r in con.execute("select distinct county_code from raw.household_submissions").fetchall()}
        unbalanced = con.execute(BALANCE).fetchall()
    assert merged == {"330106"} and in_tables == {"330106"}
    assert len(waiting) == 12  # every other county of the census area: its lines wait, counted, not lost
    assert unbalanced == []  # received = ingested + quarantined + awaiting, file by file

    rest = census_cli(["ingest-by-county"], dict(os.environ, **env))
    assert rest.returncode == 0, rest.stdout + rest.stderr
    assert "12 counties ingested" in rest.stdout, rest.stdout
    with duckdb.connect(env["CENSUS_WAREHOUSE"], read_only=True) as con:
        got = tables(con)
        assert con.execute("select count(*) from raw.file_counties where merged_at is null").fetchall() == [(0,)]
        unbalanced = con.execute(BALANCE).fetchall()
        awaiting = con.execute("select count(*) from raw.file_counties where merged_at is null").fetchall()[0][0]
    for name in TABLES:
        assert got[name] == expected[name], name
    assert unbalanced == [] and awaiting == 0  # every line of every batch ingested or quarantined, once
    assert not list(ingest.county_folder(env["CENSUS_WAREHOUSE"]).glob("*.duckdb"))


# the ingest ledger's own sums (defs/ingestion/assets.py), file by file: lines received against lines
# in the warehouse (valid or quarantined) and lines routed to a county not yet merged
BALANCE = """
    select f.source_file from raw.ingest_files f
    left join (select source_file, count(*) as n from raw.submission_lines group by all) a using (source_file)
    left join (select source_file, count(*) as n from raw.rejected_lines group by all) r using (source_file)
    left join (select source_file, sum(lines) as n from raw.file_counties where merged_at is null group by all) w
         using (source_file)
    where f.kind = 'submission'
      and f.lines_received <> coalesce(a.n, 0) + coalesce(r.n, 0) + coalesce(w.n, 0)
"""
