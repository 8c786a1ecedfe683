"""dbt inside the run's process (census_pipeline/defs/dbt_in_process.py, ADR 0011) keeps what the
subprocess gave: a model that fails fails the build with dbt's own error, and once a build has
ended, failed or not, the warehouse is free for another process (dbt-duckdb keeps its database
open in the process unless the build closes it)."""

import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from tests.builders import rules_landing_zone, run_ingest


def _materialize_microdata_build(landing: Path, warehouse: Path, monkeypatch) -> dg.ExecuteInProcessResult:
    from census_pipeline.definitions import defs
    from census_pipeline.defs.microdata.assets import census_microdata_models

    monkeypatch.setenv("CENSUS_LANDING_DIR", str(landing))
    monkeypatch.setenv("CENSUS_WAREHOUSE", str(warehouse))
    monkeypatch.setenv("CENSUS_OUTPUT_DIR", str(warehouse.parent / "out"))
    resources = defs.get_repository_def().get_top_level_resources()
    return dg.materialize([census_microdata_models], raise_on_error=False,
                          resources={k: resources[k] for k in ("dbt", "warehouse", "pseudonym_key")})


def _free_for_a_writer(warehouse: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "import duckdb, sys; "
                           "duckdb.connect(sys.argv[1]).execute('create or replace table main.probe (x int)')",
                           str(warehouse)], capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_a_model_failing_in_process_fails_the_build_with_dbts_error_and_frees_the_warehouse(tmp_path, monkeypatch):
    landing, warehouse = tmp_path / "landing", tmp_path / "w.duckdb"
    rules_landing_zone(landing)
    con = run_ingest(landing, warehouse)
    con.execute("drop table raw.death_lines")  # the staging view over it cannot be made
    con.close()

    result = _materialize_microdata_build(landing, warehouse, monkeypatch)

    assert not result.success
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    assert "dbt build failed" in failure.event_specific_data.error.message
    # dbt's debug log, in the build's invocation folder as with a subprocess, names the failing model
    from census_pipeline.defs.dbt import invocation_folders

    log = "".join((f / "dbt.log").read_text(encoding="utf-8") for f in invocation_folders(result.run_id))
    assert "stg_landing__death_lines" in log and "death_lines does not exist" in log.replace('"', ""), log[-2000:]
    probe = _free_for_a_writer(warehouse)
    assert probe.returncode == 0, probe.stderr  # no DuckDB lock left by the failed build


@pytest.mark.slow
def test_after_a_build_in_process_the_warehouse_is_free_and_the_models_are_there(tmp_path, monkeypatch, capsys):
    # another file name than the first test's, in the same process: dbt's relations are named after
    # the warehouse file, so a project parsed for the other warehouse would build nothing here
    landing, warehouse = tmp_path / "landing", tmp_path / "census.duckdb"
    rules_landing_zone(landing)
    with run_ingest(landing, warehouse) as con:  # and no truth file: linkage_truth's empty table
        con.execute("create table raw.linkage_truth (record_type varchar, record_key varchar, person bigint)")

    result = _materialize_microdata_build(landing, warehouse, monkeypatch)

    assert result.success, [e.message for e in result.all_events if e.is_failure]
    # dbt's output as the subprocess printed it: its progress lines, not its debug events (every SQL
    # statement it runs)
    printed = capsys.readouterr().out
    assert " START sql " in printed and " OK created sql " in printed, printed[-2000:]
    assert "On model.census." not in printed and "create  table" not in printed, printed[-2000:]
    probe = _free_for_a_writer(warehouse)
    assert probe.returncode == 0, probe.stderr
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select count(*) from microdata.persons").fetchone()[0] > 0
