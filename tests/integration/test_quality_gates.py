"""Great Expectations gates: complete suites, green on a clean census, red on planted bad
data, and a failing blocking gate stops everything downstream in a real run."""

import json
import shutil

import dagster as dg
import duckdb
import pytest

from census_pipeline.defs.quality.gates import GATES
from census_pipeline.resources.expectations import SUITES_DIR, GreatExpectations, suite_expectation_count
from census_pipeline.runner import summarise
from tests.builders import person, submission, warehouse_path, write_batch


def test_every_suite_file_is_complete_and_described():
    for path in SUITES_DIR.glob("*.json"):
        for e in json.loads(path.read_text(encoding="utf-8"))["expectations"]:
            assert e.get("description"), (path.name, e["type"])
            assert e["meta"]["severity"] in ("ERROR", "WARN") and e["meta"]["rule"], (path.name, e["type"])
    assert {g.suite for g in GATES} == {p.stem for p in SUITES_DIR.glob("*.json")}


def test_suites_load_whole_and_pass_on_a_clean_census(built, tmp_path):
    result, con, _ = built
    copy = tmp_path / "w.duckdb"  # the fixture holds the file open in this process with other settings
    shutil.copy(warehouse_path(con), copy)
    runner = GreatExpectations(warehouse_path=str(copy), output_dir=str(tmp_path))
    for gate in GATES:
        outcome = runner.validate(gate.suite, gate.query, gate.key_column)
        assert len(outcome.outcomes) == suite_expectation_count(gate.suite), gate.suite  # GX dropped none
        assert not outcome.failed("ERROR"), (gate.suite, outcome.failed("ERROR"))
        assert not [o for o in outcome.outcomes if o.error], gate.suite
    assert (tmp_path / "quality" / "data_docs" / "index.html").exists()
    checks = [e.event_specific_data for e in result.all_events if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION]
    gate_names = {c.check_name for c in checks if c.check_name.endswith("_gate")}
    assert gate_names == {f"{g.suite}_gate" for g in GATES}
    assert all(c.passed for c in checks if c.check_name.endswith("_gate"))


def test_suites_fail_on_planted_bad_data(built, tmp_path):
    _, con, _ = built
    bad = tmp_path / "bad.duckdb"
    shutil.copy(warehouse_path(con), bad)
    w = duckdb.connect(str(bad))
    household = w.execute("select household_id from microdata.persons where is_counted and household_type = '1' "
                          "and relationship <> '0' limit 1").fetchone()[0]
    w.execute("update microdata.persons set relationship = '0' where household_id = ? and is_counted", [household])
    w.execute("update microdata.persons set age = 150 where person_key = (select min(person_key) from microdata.persons where is_counted)")
    w.execute("update bulletin.b1_population set population = population + 1 where region_code = '330102'")
    w.execute("update raw.household_submissions set submitted_at = timestamptz '2021-03-01 10:00:00+08' "
              "where submission_id = (select min(submission_id) from raw.household_submissions)")
    w.execute("update quality.pes_estimates set ci_low_pct = net_omission_pct + 1 where level = 'city'")
    w.close()
    runner = GreatExpectations(warehouse_path=str(bad), output_dir=str(tmp_path / "out"))
    failed = {g.suite: {o.rule for o in runner.validate(g.suite, g.query, g.key_column).failed("ERROR")} for g in GATES}
    assert "one_head_per_family_household" in failed["microdata__persons"]
    assert "age 0-120" in failed["microdata__persons"]
    assert "county_totals_reconcile_to_city" in failed["bulletin__tables"]
    assert "submitted_at inside the census windows" in failed["raw__household_submissions"]
    assert failed["quality__pes_estimates"] == {"estimate_inside_its_interval"}
    persons = runner.validate("microdata__persons", GATES[1].query, "person_key")
    sample = next(o.sample for o in persons.outcomes if o.rule == "age 0-120")
    assert sample and all(len(k) == 64 for k in sample)  # failing rows named by pseudonym only


@pytest.mark.slow
def test_a_failing_blocking_gate_leaves_everything_downstream_unmaterialized(tmp_path, locations):
    root = tmp_path / "landing"
    subs = [submission("ok", "H3301060010010010001", [person(1, "甲一", seq=1)]),
            submission("late", "H3301060010010010002", [person(1, "乙一", seq=3)], at="2021-03-01T10:00:00+08:00")]
    write_batch(root / "uploads/pad/2020-11-03/b.jsonl", subs)
    locations(root)
    from census_pipeline.runner import materialize_census

    result = materialize_census()
    summary = summarise(result)
    assert not summary["ok"]
    assert ("raw/household_submissions:raw__household_submissions_gate", "ERROR") in summary["checks_failed"]
    materialized = {e.event_specific_data.materialization.asset_key.to_user_string() for e in result.all_events
                    if e.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION}
    assert "raw/household_submissions" in materialized
    assert not any(k.startswith(("microdata/", "bulletin/", "staging/", "quality/")) for k in materialized)
    assert not (tmp_path / "output" / "bulletin" / "bulletin.html").exists()


def test_scorecard_and_progress_reports(built):
    _, con, _ = built
    folder = _path_out(con)
    for name in ("follow_up", "coverage", "enumerator_scorecard", "progress"):
        assert (folder / f"{name}.csv").exists(), name
    sent = con.execute("select count(*) from raw.household_submissions where enumerator_id is not null").fetchone()[0]
    assert con.execute("select sum(submissions) from quality.enumerator_scorecard").fetchone()[0] == sent
    finals = con.execute("""select count(distinct household_id) from raw.household_submissions
                            where status = 'final' and household_id in (select household_id from raw.listing_frame)""").fetchone()[0]
    last = con.execute("select sum(enumerated_final), sum(listed_households) from quality.progress "
                       "where census_day = date '2020-11-30'").fetchone()
    assert last == (finals, con.execute("select count(*) from raw.listing_frame").fetchone()[0])
    first = con.execute("select sum(enumerated_final) from quality.progress where census_day = date '2020-10-11'").fetchone()[0]
    assert first < last[0]


def _path_out(con):

    return warehouse_path(con).parent / "out" / "quality"
