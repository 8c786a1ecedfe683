"""Upload ingestion county by county gives what the one-step ingestion gives, line for line.

The province path (defs/ingestion/by_county.py): a routing step, one step per county writing a
DuckDB file of its own, a merge. On hostile batch files (tests/unit/test_ingest_hostile.py's:
junk bytes, invalid UTF-8, wrong types, copies with other contents, every line ending), some of
them holding two counties' lines, any choice of the counties whose steps run before `census run`
(which merges them and reads the rest itself) gives the one-step ingestion's tables: the same
lines, the same quarantine rows and reasons, the same ledger and the same submissions. A county
step killed inside a transaction and run again adds each file once; a merge killed after its
commit and run again, or an old county step re-executed, adds nothing; a county file left from an
earlier warehouse is never merged.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb
from hypothesis import given
from hypothesis import strategies as st

from census_pipeline.defs.ingestion import ingest
from tests.unit.test_ingest_hostile import SETTINGS, hostile_file, line, submission

OTHER_EA = b"330105002003004"  # an EA of another county of the census area (拱墅区)
CHANNELS = ("pad", "self")

TABLES = {  # what must be equal, in an order that does not depend on which step wrote a row first
    "raw.submission_lines": "select source_file, line_no, upload_date, channel_folder, submission_id, s::varchar "
                            "from raw.submission_lines order by all",
    "raw.rejected_lines": "select source_file, line_no, reason, raw_text from raw.rejected_lines order by all",
    "raw.ingest_files": "select source_file, kind, upload_date, size_bytes, lines_received from raw.ingest_files "
                        "order by all",
    "raw.household_submissions": "select * exclude (submitted_at), submitted_at::varchar "
                                 "from raw.household_submissions order by all",
    "raw.person_lines": "select submission_id, person_index, to_json(columns(* exclude (submission_id, person_index)))"
                        "::varchar from raw.person_lines order by all",
    "raw.death_lines": "select submission_id, death_index, name::varchar, id_number::varchar from raw.death_lines "
                       "order by all",
    "raw.submission_conflicts": "select * from raw.submission_conflicts order by all",
}


def landing(root: Path, first: bytes, second: bytes) -> None:
    """Three batch files: one county's, another county's (the same kind of lines moved to another
    EA), and a self-enumeration batch holding both."""
    moved = second.replace(b"330106001001007", OTHER_EA)
    for rel, data in (("uploads/pad/2020-11-03/a.jsonl", first), ("uploads/pad/2020-11-04/b.jsonl", moved),
                      ("uploads/self/2020-11-05/c.jsonl", first + b"\n" + moved)):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)


def tables(con) -> dict[str, list]:
    return {name: con.execute(sql).fetchall() for name, sql in TABLES.items()}


def one_step(root: Path, db: Path) -> dict[str, list]:
    with duckdb.connect(str(db)) as con:
        ingest.ingest_submissions(con, root, "uploads", CHANNELS)
        return tables(con)


@SETTINGS
@given(hostile_file(), hostile_file(), st.data())
def test_county_steps_then_census_run_give_the_one_step_tables(f1, f2, data):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "landing"
        landing(root, f1[0], f2[0])
        expected = one_step(root, Path(tmp) / "one.duckdb")
        db = Path(tmp) / "w.duckdb"
        with duckdb.connect(str(db)) as con:
            ingest.route_submission_files(con, root, CHANNELS)
            work = ingest.pending_by_county(con, root)
        assert set(work) <= {"330106", "330105"}
        # any counties' steps, in any order, some twice (a rerun adds nothing), before census run
        steps = data.draw(st.lists(st.sampled_from(sorted(work)), max_size=3)) if work else []
        for county in steps:
            ingest.ingest_county(ingest.county_folder(db) / f"{county}.duckdb", root, county, work[county], CHANNELS)
        with duckdb.connect(str(db)) as con:
            if data.draw(st.booleans()):
                ingest.merge_counties(con)  # (the job's merge step; census run merges too)
            ingest.ingest_submissions(con, root, "uploads", CHANNELS)  # census run's one step
            assert tables(con) == expected
            assert con.execute("select count(*) from raw.file_counties where merged_at is null").fetchall() == [(0,)]
        assert not list(ingest.county_folder(db).glob("*.duckdb"))  # merged files are removed


def test_routing_quarantines_only_the_lines_of_no_county_and_the_ledger_waits_for_the_rest(tmp_path):
    root = tmp_path / "landing"
    good = line(submission(1)) + b"\n" + line(submission(2, ea_code=OTHER_EA.decode()))
    bad = b"\n".join([b"not json", line(submission(3, ea_code="990101001001001")),
                      line(submission(4, ea_code=None)), line(submission(5, status="bogus"))])
    landing(root, good + b"\n" + bad, b"")
    db = tmp_path / "w.duckdb"
    with duckdb.connect(str(db)) as con:
        ingest.route_submission_files(con, root, CHANNELS)
        rejected = con.execute("select source_file, line_no, reason from raw.rejected_lines order by all").fetchall()
        a = "uploads/pad/2020-11-03/a.jsonl"
        # the line with a bad status names a county: its county's step quarantines it, not the routing
        assert [(f, n) for f, n, _ in rejected if f == a] == [(a, 3), (a, 4), (a, 5)]
        with duckdb.connect(str(tmp_path / "one.duckdb")) as one:  # the one-step ingestion's reasons, word for word
            ingest.ingest_submissions(one, root, "uploads", CHANNELS)
            reasons = dict(((f, n), r) for f, n, r in one.execute(
                "select source_file, line_no, reason from raw.rejected_lines").fetchall())
        assert [r for f, n, r in rejected] == [reasons[(f, n)] for f, n, _ in rejected]
        assert len({r for _, _, r in rejected}) == 3  # not valid JSON; outside the census area; ea_code null
        waiting = con.execute("select source_file, county_code, lines from raw.file_counties order by all").fetchall()
        assert waiting == [(a, "330105", 1), (a, "330106", 2),
                           ("uploads/self/2020-11-05/c.jsonl", "330105", 1),
                           ("uploads/self/2020-11-05/c.jsonl", "330106", 2)]
        ingest.rebuild_if_needed(con, "uploads")
        assert con.execute("select count(*) from raw.household_submissions").fetchall() == [(0,)]


DIE_IN_SECOND_CHUNK = """
import os, signal, sys
from pathlib import Path
from census_pipeline.defs.ingestion import ingest
ingest.CHUNK_FILES = 1  # one file a transaction
real, calls = ingest._check_and_shred, []
def dying(*args, **kwargs):
    real(*args, **kwargs)
    calls.append(1)
    if len(calls) == 2:  # inside the second file's transaction, its lines written, not committed
        os.kill(os.getpid(), signal.SIGKILL)
ingest._check_and_shred = dying
db, root, county = sys.argv[1:4]
files = [(p, int(n)) for p, n in (f.split("|") for f in sys.argv[4:])]
ingest.ingest_county(Path(db), Path(root), county, files)
"""


def test_a_county_step_killed_in_a_transaction_and_run_again_reads_each_file_once(tmp_path):
    root = tmp_path / "landing"
    body = b"\n".join(line(submission(n)) for n in range(20))
    landing(root, body, body)
    expected = one_step(root, tmp_path / "one.duckdb")
    db = tmp_path / "w.duckdb"
    with duckdb.connect(str(db)) as con:
        ingest.route_submission_files(con, root, CHANNELS)
        work = ingest.pending_by_county(con, root)
    part = ingest.county_folder(db) / "330106.duckdb"
    files = [f"{p}|{n}" for p, n in work["330106"]]
    assert len(files) == 2  # a.jsonl and the mixed c.jsonl
    killed = subprocess.run([sys.executable, "-c", DIE_IN_SECOND_CHUNK, str(part), str(root), "330106", *files],
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}, capture_output=True)
    assert killed.returncode == -9, killed.stderr.decode()[-2000:]
    with duckdb.connect(str(part), read_only=True) as con:
        assert con.execute("select count(*) from done").fetchall() == [(1,)]  # the first file's commit only
        assert con.execute("select count(distinct source_file) from submission_lines").fetchall() == [(1,)]
    assert ingest.ingest_county(part, root, "330106", work["330106"]) == 1  # the rest, once
    kept = part.read_bytes()
    with duckdb.connect(str(db)) as con:
        assert ingest.merge_counties(con) == {"330106": 2}
        # killed after the merge's commit, before the county's file was removed: merged again, it adds nothing
        part.write_bytes(kept)
        assert ingest.merge_counties(con) == {"330106": 0}
    # an old run's county step re-executed (the UI reloads its input): its work is merged already
    assert ingest.ingest_county(part, root, "330106", work["330106"]) == 2
    with duckdb.connect(str(db)) as con:
        assert ingest.merge_counties(con) == {"330106": 0}
        ingest.ingest_submissions(con, root, "uploads", CHANNELS)  # 330105's lines, read by census run
        assert tables(con) == expected


def test_a_county_file_of_an_earlier_warehouse_or_one_killed_as_it_was_made_is_not_merged(tmp_path):
    root = tmp_path / "landing"
    landing(root, b"\n".join(line(submission(n)) for n in range(5)), b"")
    db = tmp_path / "w.duckdb"
    with duckdb.connect(str(db)) as con:
        ingest.route_submission_files(con, root, CHANNELS)
        work = ingest.pending_by_county(con, root)
    part = ingest.county_folder(db) / "330106.duckdb"
    ingest.ingest_county(part, root, "330106", work["330106"])
    kept = part.read_bytes()
    db.unlink()  # the warehouse deleted, its county files left behind; then the landing zone changed
    (root / "uploads/pad/2020-11-03/a.jsonl").write_bytes(line(submission(99)))
    expected = one_step(root, tmp_path / "one.duckdb")
    with duckdb.connect(str(db)) as con:
        ingest.route_submission_files(con, root, CHANNELS)
        part.write_bytes(kept)
        duckdb.connect(str(ingest.county_folder(db) / "330105.duckdb")).close()  # created, no tables yet
        assert ingest.merge_counties(con) == {"330105": 0, "330106": 0}  # neither holds this routing's work
        assert not list(ingest.county_folder(db).glob("*.duckdb"))
        ingest.ingest_submissions(con, root, "uploads", CHANNELS)
        assert tables(con) == expected
