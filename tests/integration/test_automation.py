"""Nightly schedule and landing-zone sensor."""

import os
import time

import dagster as dg

from census_pipeline.defs.automation.automation import landing_zone_sensor, nightly_census_run


def test_nightly_at_two_in_china_standard_time():
    assert nightly_census_run.cron_schedule == "0 2 * * *"
    assert nightly_census_run.execution_timezone == "Asia/Shanghai"
    assert nightly_census_run.job_name == "census_all"


def _tick(cursor, monkeypatch, root):
    monkeypatch.setenv("CENSUS_LANDING_DIR", str(root))
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
