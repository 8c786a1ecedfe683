"""The publication stamp and manifest.json: a published folder can be verified later, and any
change to it (a file edited, removed, added or swapped) is found."""

import datetime as dt
import json

import duckdb
import pytest

from census_pipeline.lib.publish import (
    MANIFEST_FILE,
    data_snapshot,
    make_stamp,
    mark_stale,
    staged_folder,
    verify_manifest,
    write_manifest,
)

LEDGER = """
create schema quality;
create table quality.ingest_ledger (source_file varchar, kind varchar, upload_date date, size_bytes bigint,
    lines_received bigint, lines_ingested bigint, lines_quarantined bigint, ingested_at timestamptz);
insert into quality.ingest_ledger values
    ('uploads/pad/2020-11-20/a.jsonl', 'pad', '2020-11-20', 900, 10, 9, 1, now()),
    ('frame/listing.csv', 'frame', null, 400, 5, 5, 0, now());
"""


@pytest.fixture()
def con():
    c = duckdb.connect()
    c.execute(LEDGER)
    yield c
    c.close()


@pytest.fixture()
def bulletin(tmp_path, con):
    final = tmp_path / "bulletin"
    with staged_folder(final, "run-7") as folder:
        (folder / "b1_population.csv").write_bytes("\ufeffregion_code,population\n330100,12\n".encode())
        (folder / "bulletin.html").write_text("<html>杭州市</html>", encoding="utf-8")
        write_manifest(folder, make_stamp(con, "run-7", now=dt.datetime(2020, 12, 1, 8, 0, tzinfo=dt.UTC)))
    return final


def test_an_untouched_bulletin_verifies(bulletin):
    assert verify_manifest(bulletin) == []
    manifest = json.loads((bulletin / MANIFEST_FILE).read_text(encoding="utf-8"))
    assert [f["name"] for f in manifest["files"]] == ["b1_population.csv", "bulletin.html"]
    csv = manifest["files"][0]
    assert csv["bytes"] == len("\ufeffregion_code,population\n330100,12\n".encode())
    assert len(csv["sha256"]) == 64
    assert manifest["stamp"]["run_id"] == "run-7" and manifest["stamp"]["published_at"] == "2020-12-01T08:00:00+00:00"
    assert manifest["stamp"]["code_version"]


def test_a_changed_figure_is_detected_even_at_the_same_size(bulletin):
    path = bulletin / "b1_population.csv"
    path.write_bytes(path.read_bytes().replace(b"12", b"13"))  # same size, one digit changed
    assert verify_manifest(bulletin) == ["b1_population.csv: changed since publication (size or sha256 differs)"]


def test_a_removed_or_added_file_is_detected(bulletin):
    (bulletin / "bulletin.html").unlink()
    (bulletin / "b9_extra.csv").write_text("x\n")
    assert verify_manifest(bulletin) == ["bulletin.html: missing", "b9_extra.csv: not in the manifest"]


def test_a_tampered_or_missing_manifest_is_reported(bulletin):
    (bulletin / MANIFEST_FILE).write_text("{not json", encoding="utf-8")
    assert verify_manifest(bulletin)[0].startswith(f"{MANIFEST_FILE} unreadable")
    (bulletin / MANIFEST_FILE).unlink()
    assert verify_manifest(bulletin)[0].startswith(f"{MANIFEST_FILE} unreadable")


def test_a_stale_note_added_after_publication_is_not_tampering(bulletin):
    mark_stale(bulletin, "run-8", "a later run failed")
    assert verify_manifest(bulletin) == []


def test_the_data_snapshot_changes_with_the_landing_zone_and_only_with_it(con):
    before = data_snapshot(con)
    assert before == data_snapshot(con) and len(before) == 64
    con.execute("update quality.ingest_ledger set ingested_at = now() + interval 1 day")  # a re-run, same files
    assert data_snapshot(con) == before
    con.execute("insert into quality.ingest_ledger values ('uploads/pad/2020-11-21/b.jsonl', 'pad', null, 50, 1, 1, 0,"
                " now())")
    assert data_snapshot(con) != before
