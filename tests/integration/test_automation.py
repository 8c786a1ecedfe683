"""Nightly schedule and landing-zone sensor."""

import fcntl
import os
import time

import dagster as dg
import duckdb

from census_pipeline.defs.automation.schedules import nightly_census_run
from census_pipeline.defs.automation.sensors import landing_zone_sensor
from census_pipeline.lib import landing_watch


def test_nightly_at_two_in_china_standard_time():
    assert nightly_census_run.cron_schedule == "0 2 * * *"
    assert nightly_census_run.execution_timezone == "Asia/Shanghai"
    assert nightly_census_run.job_name == "census_all"


def _tick(cursor, monkeypatch, root, warehouse=None):
    monkeypatch.setattr(landing_watch, "SETTLE_S", 0.0)  # the files here are written a moment before the look
    monkeypatch.setenv("CENSUS_LANDING_DIR", str(root))
    monkeypatch.setenv("CENSUS_WAREHOUSE", str(warehouse or root.parent / "no-warehouse-yet.duckdb"))
    ctx = dg.build_sensor_context(cursor=cursor, instance=dg.DagsterInstance.ephemeral())
    result = landing_zone_sensor(ctx)
    return result, ctx.cursor


def test_each_new_file_requests_a_run_exactly_once(tmp_path, monkeypatch):
    day = tmp_path / "uploads/pad/2020-11-03"
    day.mkdir(parents=True)
    (day / "a.jsonl").write_text("{}\n")
    first, cursor = _tick(None, monkeypatch, tmp_path)
    assert isinstance(first, dg.RunRequest)
    again, same = _tick(cursor, monkeypatch, tmp_path)
    assert isinstance(again, dg.SkipReason) and same == cursor  # nothing new: no second run

    (day / "b.jsonl.part").write_text("{}\n")  # still being written
    (day / ".c.jsonl").write_text("{}\n")
    skipped, cursor2 = _tick(cursor, monkeypatch, tmp_path)
    assert isinstance(skipped, dg.SkipReason) and cursor2 == cursor

    time.sleep(0.01)
    os.replace(day / "b.jsonl.part", day / "b.jsonl")  # renamed into place: now complete
    second, cursor3 = _tick(cursor, monkeypatch, tmp_path)
    assert isinstance(second, dg.RunRequest) and second.run_key != first.run_key
    assert second.tags["census/new_files"] == "1"


def test_a_burst_of_hundreds_of_files_is_one_run(tmp_path, monkeypatch):
    for i in range(400):
        d = tmp_path / f"uploads/self/2020-10-{11 + i % 20}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{i:04d}.jsonl.gz").write_bytes(b"")
    (tmp_path / "admin/hukou").mkdir(parents=True)
    (tmp_path / "admin/hukou/x.csv").write_text("person_no\n")
    request, cursor = _tick(None, monkeypatch, tmp_path)
    assert isinstance(request, dg.RunRequest) and request.tags["census/new_files"] == "401"
    request2, _ = _tick(None, monkeypatch, tmp_path)  # the same tick replayed: the same run key
    assert request2.run_key == request.run_key
    assert isinstance(_tick(cursor, monkeypatch, tmp_path)[0], dg.SkipReason)


def test_the_first_tick_leaves_out_files_the_warehouse_has_already_ingested(tmp_path, monkeypatch):
    """A sensor switched on beside a warehouse that has read the landing zone (say, after `census
    run`) must not start a whole run for files already in its ledger; a file that lands later does."""
    from census_demo import generate
    from census_pipeline.defs.ingestion import ingest

    root = tmp_path / "landing"
    generate(root, households=40, seed=3)
    warehouse = tmp_path / "w.duckdb"
    con = duckdb.connect(str(warehouse))
    ingest.ingest_submissions(con, root, "uploads", ("pad", "self"))
    con.close()
    # the uploads are in the ledger; the frame, registers and PES files are not (never ingested)
    not_ingested = sum(1 for sub in ("frame", "admin", "pes") for p in (root / sub).rglob("*") if p.is_file())
    assert not_ingested > 0

    # a run is writing the warehouse (it holds the runs' lock): the first look waits, cursor unset
    with open(str(warehouse) + ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        busy, cursor = _tick(None, monkeypatch, root, warehouse)
        fcntl.flock(lock, fcntl.LOCK_UN)
    assert isinstance(busy, dg.SkipReason) and "writing the warehouse" in busy.skip_message and cursor is None

    first, cursor = _tick(None, monkeypatch, root, warehouse)
    assert isinstance(first, dg.RunRequest)
    assert first.tags["census/new_files"] == str(not_ingested)  # only what the ledger lacks

    # once everything is ingested, a first tick starts nothing, and says why
    con = duckdb.connect(str(warehouse))
    ingest.ingest_submissions(con, root, "pes", ("pes",))
    for table, (folder, columns, key) in ingest.REGISTERS.items():
        ingest.ingest_csv_files(con, root, folder, table, columns, key)
    ingest.ingest_csv_files(con, root, "frame", "listing_frame", ingest.FRAME_COLUMNS, "household_id")
    con.close()
    idle, cursor = _tick(None, monkeypatch, root, warehouse)
    assert isinstance(idle, dg.SkipReason) and "already ingested" in idle.skip_message, idle
    assert cursor is not None

    time.sleep(0.01)
    day = root / "uploads/pad/2020-11-06"
    day.mkdir(parents=True, exist_ok=True)
    (day / "late.jsonl").write_text("{}\n")
    late, _ = _tick(cursor, monkeypatch, root, warehouse)
    assert isinstance(late, dg.RunRequest) and late.tags["census/new_files"] == "1"


def test_the_bulletin_turns_stale_only_when_a_nightly_run_was_missed():
    """The published bulletin's freshness policy (Dagster UI, asset health) and the nightly
    schedule must agree: between two nightly runs, plus the longest run measured (12 M persons,
    ~18 min: bench/README.md), the bulletin is fresh; one missed night warns, two fail. A schedule
    moved to weekly without the policy, or a tighter policy, fails here."""
    from datetime import timedelta

    from dagster._utils.schedules import cron_string_iterator

    from census_pipeline.defs.publication.assets import published_files

    policy = published_files.get_asset_spec(dg.AssetKey(["bulletin", "published_files"])).freshness_policy
    ticks = cron_string_iterator(time.time(), nightly_census_run.cron_schedule, nightly_census_run.execution_timezone)
    first = next(ticks)
    gaps = [(t - first) for t in (next(ticks), next(ticks))]
    longest_run = timedelta(minutes=30)
    warn, fail = policy.warn_window.to_timedelta(), policy.fail_window.to_timedelta()
    assert gaps[0] + longest_run <= warn < gaps[1]
    assert gaps[1] + longest_run <= fail < gaps[1] + gaps[0]


def test_a_failed_run_raises_one_alert_to_the_log_and_the_configured_command(tmp_path, monkeypatch):
    """A nightly run someone can leave alone: its failure is written to alerts.log and handed to the
    office's own command (here a Python one-liner writing a file: no network), once per run, however
    many places notice it; a failing alert command is recorded, never raised."""
    import json
    import sys

    from census_demo import generate
    from census_pipeline.defs.automation.sensors import bulletin_marked_stale_after_a_failed_run
    from census_pipeline.lib.alerts import alert
    from census_pipeline.resources import OutputDir
    from census_pipeline.runner import materialize_census

    landing = tmp_path / "landing"
    generate(landing, households=20, seed=4)
    (tmp_path / "w.duckdb").mkdir()  # the warehouse cannot be opened: the first step fails
    received = tmp_path / "received.txt"
    for k, v in {"CENSUS_LANDING_DIR": landing, "CENSUS_WAREHOUSE": tmp_path / "w.duckdb",
                 "CENSUS_OUTPUT_DIR": tmp_path / "out", "CENSUS_PSEUDONYM_KEY": "k",
                 "CENSUS_ALERT_COMMAND": f"{sys.executable} -c \"import os, sys; open({str(received)!r}, 'a')"
                                         ".write(os.environ['CENSUS_ALERT_RUN_ID'] + ' ' + sys.stdin.read())\""}.items():
        monkeypatch.setenv(k, str(v))
    with dg.DagsterInstance.ephemeral() as instance:
        result = materialize_census(instance, selection="raw/listing_frame")
        assert not result.success
        failure = next(e.dagster_event for e in instance.all_logs(result.run_id, of_type=dg.DagsterEventType.RUN_FAILURE))
        for _ in range(2):  # the sensor evaluated twice (a retried tick): one alert
            context = dg.build_run_status_sensor_context(
                sensor_name="bulletin_marked_stale_after_a_failed_run", dagster_event=failure,
                dagster_instance=instance, dagster_run=instance.get_run_by_id(result.run_id),
                resources={"output": OutputDir(path=str(tmp_path / "out"))}).for_run_failure()
            bulletin_marked_stale_after_a_failed_run(context)
    assert alert(tmp_path / "out", result.run_id, "again", "census run", stale=False) is None  # census run too
    lines = [json.loads(x) for x in (tmp_path / "out" / "alerts.log").read_text(encoding="utf-8").splitlines()]
    assert [x["run_id"] for x in lines] == [result.run_id]
    assert lines[0]["cause"] and "\n" not in lines[0]["cause"] and lines[0]["bulletin_marked_stale"] is False
    text = received.read_text(encoding="utf-8")
    assert text.count(result.run_id) == 2 and "failed" in text  # the variable and the text, once

    monkeypatch.setenv("CENSUS_ALERT_COMMAND", f"{sys.executable} -c \"raise SystemExit(3)\"")
    assert alert(tmp_path / "out", "another-run", "the run failed", "census run", stale=True)["command"] == "exit 3"
    last = json.loads((tmp_path / "out" / "alerts.log").read_text(encoding="utf-8").splitlines()[-1])
    assert last == {"run_id": "another-run", "alert_command": "exit 3"}
