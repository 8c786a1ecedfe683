"""Two households under one household_id do not pass silently: the listing frame's gate blocks the run
when an id is listed twice in one frame file or with two EAs, warns on a copied row, and the raw gate
warns when one household's final submissions come from two EAs. Clean on the generated demo census."""

import csv
import json
import shutil

import dagster as dg
import duckdb

from census_pipeline.defs.ingestion import assets as ingestion
from census_pipeline.defs.quality.gates import frame_clashes, gate_checks, one_household_per_household_id
from census_pipeline.resources import LandingZone, Warehouse
from census_pipeline.resources.expectations import GreatExpectations
from census_pipeline.runner import summarise
from tests.builders import write_batch

CHECK = "one_household_per_household_id"
SUBMISSIONS_RULE = "one EA per household among final submissions"
RAW_GATE = next(c for c in gate_checks if c.node_def.name == "raw__household_submissions_suite")


def materialize_raw(landing, folder) -> dg.ExecuteInProcessResult:
    """The frame and the uploads ingested, with the frame's gate and the raw submissions' gate."""
    return dg.materialize(
        [ingestion.listing_frame, ingestion.upload_batches, one_household_per_household_id, RAW_GATE],
        resources={"warehouse": Warehouse(path=str(folder / "w.duckdb")), "landing": LandingZone(path=str(landing)),
                   "great_expectations": GreatExpectations(warehouse_path=str(folder / "w.duckdb"),
                                                           output_dir=str(folder / "out"))},
        raise_on_error=False)


def evaluations(result) -> dict:
    return {e.event_specific_data.check_name: e.event_specific_data for e in result.all_events
            if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION}


def test_the_clean_demo_census_passes(small_census, tmp_path):
    landing, _ = small_census
    checks = evaluations(materialize_raw(landing, tmp_path))
    frame = checks[CHECK]
    assert frame.passed, frame.description
    assert frame.metadata["household_ids_listed"].value == frame.metadata["frame_rows_received"].value > 0
    assert frame.metadata["example_household_ids"].value == "none"
    assert SUBMISSIONS_RULE not in str(checks["raw__household_submissions_warnings"].metadata["failures"].value)


def _plant(landing):
    """A second dwelling under an id already listed, an id listed again in another file with another
    EA, a row copied twice; and a household's final submission again from another EA."""
    frame = landing / "frame" / "listing.csv"
    rows = list(csv.reader(frame.open(encoding="utf-8")))
    header, first, second, fourth = rows[0], rows[1], rows[2], rows[4]
    other_ea = next(r[1] for r in rows[1:] if r[1] != second[1] and r[1][:6] == second[1][:6])
    with frame.open("a", encoding="utf-8", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows([
            [first[0], first[1], first[2], first[3] + "甲", first[4], "3", first[6]],  # another dwelling
            fourth])  # the same row again
    with (landing / "frame" / "relisting.csv").open("w", encoding="utf-8", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows([header, [second[0], other_ea, *second[2:]]])
    final = next(s for p in sorted((landing / "uploads" / "pad").rglob("*.jsonl"))
                 for s in map(_submission, p.read_text(encoding="utf-8-sig", errors="replace").splitlines())
                 if s.get("status") == "final" and s.get("persons"))
    moved = dict(final, submission_id="planted-two-families", ea_code=other_ea)
    write_batch(landing / "uploads" / "pad" / "2020-11-03" / "planted.jsonl", [moved])
    return {"two_dwellings": first[0], "two_eas": second[0], "copied": fourth[0]}


def _submission(line: str) -> dict:
    """A generated line as a submission; {} for the malformed lines the generator plants."""
    try:
        s = json.loads(line)
    except ValueError:
        return {}
    return s if isinstance(s, dict) else {}


def test_two_households_under_one_id_block_the_run_with_a_clear_cause(small_census, tmp_path):
    landing = tmp_path / "landing"
    shutil.copytree(small_census[0], landing)
    planted = _plant(landing)
    result = materialize_raw(landing, tmp_path)
    frame = evaluations(result)[CHECK]

    assert not frame.passed and frame.severity == dg.AssetCheckSeverity.ERROR
    assert frame.description.startswith("2 household_id(s) of the listing frame name more than one household "
                                        "(1 listed with different rows in one frame file, 1 with different "
                                        "ea_code values): supersession would merge their families"), frame.description
    meta = {k: v.value for k, v in frame.metadata.items()}
    assert meta["household_ids_with_a_copied_row"] == 1 and meta["rows_of_ids_listed_twice_in_a_file"] == 4
    # counts and household ids only: no address, name or ID number reaches the event log
    assert meta["example_household_ids"] == ", ".join(sorted([planted["two_dwellings"], planted["two_eas"]]))
    assert all(isinstance(v, int) for k, v in meta.items() if k != "example_household_ids")

    summary = summarise(result)
    assert not summary["ok"]  # a blocking (ERROR) check failed: `census run` exits 1 and publishes nothing
    assert summary["check_causes"][f"raw/listing_frame:{CHECK}"] == frame.description
    spec = next(iter(one_household_per_household_id.check_specs))
    assert spec.blocking  # what is downstream of the frame waits for it

    raw = evaluations(result)["raw__household_submissions_warnings"]
    assert not raw.passed and SUBMISSIONS_RULE in str(raw.metadata["failures"].value)
    assert SUBMISSIONS_RULE not in str(evaluations(result)["raw__household_submissions_gate"].metadata["failures"].value)


def test_a_copied_frame_row_alone_only_warns(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("create schema raw")
    con.execute("create table raw.listing_frame_received as select * from (values "
                "('H3301020010010010001', '330102001001001', '111', 'a', '1', '2', '2020-10-20', 'f.csv', 2),"
                "('H3301020010010010001', '330102001001001', '111', 'a', '1', '2', '2020-10-20', 'f.csv', 3),"
                "('H3301020010010010002', '330102001001001', '111', 'b', '1', '2', '2020-10-20', 'f.csv', 4),"
                "('H3301020010010010002', '330102001001001', '111', 'b', '1', '3', '2020-10-28', 'g.csv', 2)"
                ") t(household_id, ea_code, urban_rural_code, address, household_type, expected_persons, listed_on, "
                "source_file, line_no)")
    clashes = frame_clashes(con)  # a later file re-listing a household in the same EA is an update
    con.close()
    assert clashes.blocking == [] and clashes.copied_rows == ["H3301020010010010001"]
    result = one_household_per_household_id(warehouse=Warehouse(path=str(tmp_path / "w.duckdb")))
    assert not result.passed and result.severity == dg.AssetCheckSeverity.WARN
    assert "same row more than once in one frame file (2 rows)" in result.description
