"""Ingestion on generated and hand-written landing zones: counts, quarantine reasons, exactly once."""

import gzip
import io
import json
import random
import shutil

import duckdb
import pytest

from tests.builders import run_ingest


def ledger(con):
    received = dict(con.execute("select source_file, lines_received from raw.ingest_files").fetchall())
    quarantined = dict(con.execute("""
        select source_file, count(*) from (select source_file from raw.rejected_lines
                                            union all select source_file from raw.submission_conflicts
                                            union all select source_file from raw.pes_submission_conflicts) group by all
    """).fetchall())
    return {f: (received[f], quarantined.get(f, 0)) for f in received}


def test_every_file_matches_the_generators_truth(small_census, tmp_path):
    landing, truth = small_census
    con = run_ingest(landing, tmp_path / "w.duckdb")
    got = ledger(con)
    want = {f: (v["received"], v["quarantined"]) for f, v in truth["files"].items()}
    assert got == want
    n = con.execute("select count(*), count(distinct submission_id) from raw.household_submissions").fetchone()
    assert n == (truth["totals"]["submissions"],) * 2
    assert truth["totals"]["lines_quarantined"] > 0  # the census really has defects to account for
    # the post-enumeration survey: its own files, same ledger, kept apart from the census
    assert any(f.startswith("pes/") for f in got) and all(f in want for f in got if f.startswith("pes/"))
    pes = con.execute("select count(*), count(distinct submission_id) from raw.pes_submissions").fetchone()
    assert pes == (truth["pes"]["households"],) * 2
    assert con.execute("select count(*) from raw.pes_person_lines").fetchone()[0] == truth["pes"]["persons"]
    assert con.execute("select count(*) from raw.household_submissions where channel = 'pes'").fetchone()[0] == 0


def test_ingesting_twice_changes_nothing(small_census, tmp_path):
    landing, _ = small_census
    con = run_ingest(landing, tmp_path / "w.duckdb")
    tables = ["raw.household_submissions", "raw.person_lines", "raw.death_lines", "raw.rejected_lines",
              "raw.ingest_files", "raw.hukou_register", "raw.listing_frame", "raw.pes_submissions",
              "raw.pes_person_lines"]
    before = {t: con.execute(f"select md5(string_agg(t::varchar, '|' order by t::varchar)) from {t} t").fetchone()
              for t in tables if t != "raw.ingest_files"}
    counts = {t: con.execute(f"select count(*) from {t}").fetchone()[0] for t in tables}
    con.close()
    con = run_ingest(landing, tmp_path / "w.duckdb")
    assert {t: con.execute(f"select count(*) from {t}").fetchone()[0] for t in tables} == counts
    after = {t: con.execute(f"select md5(string_agg(t::varchar, '|' order by t::varchar)) from {t} t").fetchone()
             for t in tables if t != "raw.ingest_files"}
    assert after == before


def _sub(sid, hh="H3301060010010070001", **over):
    s = {"submission_id": sid, "channel": "pad", "form": "short", "status": "final",
         "submitted_at": "2020-11-03T10:22:31+08:00", "enumerator_id": "E330106001001004", "device_id": "PAD-1",
         "household_id": hh, "ea_code": "330106001001007", "household_type": "1", "address": "西湖区某路1号",
         "h_resident_count": 1, "h_hukou_absent_count": 0,
         "persons": [{"line_no": 1, "name": "王建国", "relationship": "0", "id_type": "1",
                      "id_number": "330106198503120016", "sex": "1", "birth_ym": "1985-03"}], "deaths": []}
    s.update(over)
    return json.dumps(s, ensure_ascii=False)


@pytest.fixture()
def handwritten(tmp_path):
    root = tmp_path / "landing"
    day = root / "uploads/pad/2020-11-03"
    day.mkdir(parents=True)
    lines = [
        _sub("s1"),
        json.dumps({k: v for k, v in json.loads(_sub("s2")).items() if k != "household_id"}),  # missing key
        _sub("s3", h_resident_count="1"),  # wrong type
        "",  # blank: not a received line
        _sub("s4", ea_code="330281001001001"),  # outside the census area
        '{"submission_id": "s5", "channel": ',  # not JSON
        _sub("s6", persons={"line_no": 1}),  # persons not an array
        _sub("s7", status="draft"),
    ]
    (day / "b1.jsonl").write_text("\ufeff" + "\n".join(lines) + "\n", encoding="utf-8")
    bad = (_sub("s8", hh="H3301060010010070008").encode("utf-8").replace("某路".encode(), b"\xff\xfe"))
    (day / "b2.jsonl").write_bytes(_sub("s9", hh="H3301060010010070009").encode() + b"\n" + bad + b"\n")
    rng = random.Random(3)
    batch = "\n".join(_sub(f"g{i}", hh=f"H33010600100100700{i:02d}", address=f"某路{rng.random()}号") for i in range(40))
    whole = gzip.compress((batch + "\n").encode())
    (day / "b3.jsonl.gz").write_bytes(whole[: len(whole) * 2 // 3])  # truncated in transfer
    (day / "b4.jsonl.part").write_text(_sub("p1") + "\n", encoding="utf-8")  # still being written
    (day / ".b5.jsonl").write_text(_sub("p2") + "\n", encoding="utf-8")
    later = root / "uploads/self/2020-11-05"
    later.mkdir(parents=True)
    (later / "again.jsonl").write_text(_sub("s1") + "\n" + _sub("s9", hh="H3301060010010070009", address="改了") + "\n",
                                       encoding="utf-8")
    return root


def test_each_defect_gets_a_clear_reason_and_the_rest_is_ingested(handwritten, tmp_path):
    con = run_ingest(handwritten, tmp_path / "w.duckdb")
    reasons = dict(((f.split("/")[-1], n), r) for f, n, r in con.execute(
        "select source_file, line_no, reason from raw.rejected_lines union all "
        "select source_file, line_no, reason from raw.submission_conflicts").fetchall())
    assert reasons[("b1.jsonl", 2)] == 'missing required key "household_id"'
    assert reasons[("b1.jsonl", 3)] == '"h_resident_count" must be an integer (got varchar)'
    assert reasons[("b1.jsonl", 5)] == "\"ea_code\" names a county outside the census area (codes/regions.csv)"
    assert reasons[("b1.jsonl", 6)] == "not valid JSON"
    assert reasons[("b1.jsonl", 7)] == '"persons" must be an array (got object)'
    assert reasons[("b1.jsonl", 8)].startswith('"status" must be one of')
    assert reasons[("b2.jsonl", 2)] == "line is not valid UTF-8"
    gz = [(k, r) for k, r in reasons.items() if k[0] == "b3.jsonl.gz"]
    assert len(gz) == 1 and "truncated" in gz[0][1]
    assert reasons[("again.jsonl", 2)] == "conflicting re-delivery: differs from the copy of its submission_id kept from uploads/pad/2020-11-03/b2.jsonl line 1"
    ids = {r[0] for r in con.execute("select submission_id from raw.household_submissions").fetchall()}
    assert {"s1", "s9"} <= ids and not ids & {"s2", "s3", "s4", "s5", "s6", "s7", "s8", "p1", "p2"}
    assert con.execute("select address from raw.household_submissions where submission_id = 's9'").fetchone()[0] != "改了"
    salvaged = {i for i in ids if i.startswith("g")}
    readable = []  # what Python's own gzip reader gets before the damage, complete lines only
    with gzip.open(io.BytesIO((handwritten / "uploads/pad/2020-11-03/b3.jsonl.gz").read_bytes())) as f:
        try:
            for line in f:
                readable.append(line)
        except EOFError:
            pass
    complete = [ln for ln in readable if ln.endswith(b"\n")]
    assert 0 < len(salvaged) == len(complete) < 40  # the lines before the damage
    files = ledger(con)
    assert set(files) == {"uploads/pad/2020-11-03/b1.jsonl", "uploads/pad/2020-11-03/b2.jsonl",
                          "uploads/pad/2020-11-03/b3.jsonl.gz", "uploads/self/2020-11-05/again.jsonl"}
    assert files["uploads/pad/2020-11-03/b1.jsonl"] == (7, 6)
    assert files["uploads/pad/2020-11-03/b3.jsonl.gz"] == (len(salvaged) + 1, 1)
    accepted = dict(con.execute("select source_file, count(*) from raw.submission_lines group by all").fetchall())
    conflicts = dict(con.execute("select source_file, count(*) from raw.submission_conflicts group by all").fetchall())
    for f, (received, quarantined) in files.items():
        ingested = accepted.get(f, 0) - conflicts.get(f, 0)
        assert received == ingested + quarantined, f


def test_gb18030_register_and_newer_extract_wins(tmp_path):
    root = tmp_path / "landing"
    (root / "admin/hukou").mkdir(parents=True)
    head = "person_no,id_number,name,sex,birth_date,hukou_region_code,hukou_township_code,hukou_address,status,extracted_on\n"
    (root / "admin/hukou/a.csv").write_bytes(
        b"# Encoding: GB18030\n" + (head + "P1,330106198503120016,欧阳娜,2,1985-03-12,330106,330106001,某地址,1,2020-10-20\n"
                                    "P2,330106198503120024,王丽,2,1985-03-12,330106,330106001,某地址,1,2020-10-20\n"
                                    ).encode("gb18030"))
    (root / "admin/hukou/b.csv").write_text(
        head + "P2,330106198503120024,王丽,2,1985-03-12,330106,330106001,新地址,2,2020-11-20\n,,,,,,,,,\n", encoding="utf-8")
    con = run_ingest(root, tmp_path / "w.duckdb")
    rows = dict(con.execute("select person_no, name || '/' || status from raw.hukou_register").fetchall())
    assert rows == {"P1": "欧阳娜/1", "P2": "王丽/2"}
    assert con.execute("select line_no, reason from raw.rejected_lines").fetchall() == [(3, 'missing key "person_no"')]
    assert dict(con.execute("select source_file, lines_received from raw.ingest_files").fetchall()) == {
        "admin/hukou/a.csv": 2, "admin/hukou/b.csv": 2}


def test_a_new_file_is_ingested_on_the_next_run_and_only_it(small_census, tmp_path):
    landing, truth = small_census
    root = tmp_path / "landing"
    shutil.copytree(landing, root)
    con = run_ingest(root, tmp_path / "w.duckdb")
    before = con.execute("select count(*) from raw.household_submissions").fetchone()[0]
    con.close()
    day = root / "uploads/pad/2020-11-29"
    day.mkdir(parents=True, exist_ok=True)
    (day / "late.jsonl").write_text(_sub("late-1", hh="H3301060010019990001") + "\n", encoding="utf-8")
    con = run_ingest(root, tmp_path / "w.duckdb")
    assert con.execute("select count(*) from raw.household_submissions").fetchone()[0] == before + 1
    assert con.execute("select count(*) from raw.ingest_files where source_file like '%late.jsonl'").fetchone()[0] == 1


# ----------------------------------------------------------------------------- crash safety

STEPS = '''
import sys, duckdb
from pathlib import Path
from census_pipeline.defs.ingestion import ingest
root, db = Path(sys.argv[1]), sys.argv[2]
con = duckdb.connect(db)
ingest.ingest_submissions(con, root, "uploads", ("pad", "self"))
ingest.ingest_submissions(con, root, "pes", ("pes",))
with ingest.atomic(con):
    ingest.ingest_csv_files(con, root, "frame", "listing_frame", ingest.FRAME_COLUMNS, "household_id")
    ingest.rebuild_frame(con)
with ingest.atomic(con):
    for table, (folder, cols, key) in ingest.REGISTERS.items():
        ingest.ingest_csv_files(con, root, folder, table, cols, key)
        ingest.rebuild_register(con, table, key)
con.close()
'''
INGESTED_TABLES = ["raw.ingest_files", "raw.rejected_lines", "raw.submission_lines", "raw.household_submissions",
                   "raw.person_lines", "raw.death_lines", "raw.submission_conflicts", "raw.pes_submissions",
                   "raw.pes_person_lines", "raw.pes_submission_conflicts",
                   "raw.listing_frame_received", "raw.listing_frame", "raw.hukou_register_received",
                   "raw.hukou_register", "raw.birth_register", "raw.death_register"]


def snapshot(db) -> dict[str, list]:
    """Every ingestion table as a sorted list of rows (the ledger's ingestion time left out)."""
    con = duckdb.connect(str(db), read_only=True)
    out = {}
    for t in INGESTED_TABLES:
        out[t] = sorted(map(str, con.execute(f"select * exclude (ingested_at) from {t}" if t == "raw.ingest_files"
                                             else f"select * from {t}").fetchall()))
    con.close()
    return out


@pytest.mark.slow  # nine ingestion processes, up to six killed: ~8 s idle, ~30 s on a busy machine
def test_a_kill_at_any_point_then_a_rerun_gives_the_undisturbed_tables(small_census, tmp_path):
    import subprocess
    import sys
    import time

    landing, _ = small_census
    script = tmp_path / "steps.py"
    script.write_text(STEPS)
    clean = tmp_path / "clean.duckdb"
    started = time.monotonic()
    subprocess.run([sys.executable, str(script), str(landing), str(clean)], check=True, timeout=300)
    duration = time.monotonic() - started
    want = snapshot(clean)
    killed = tmp_path / "killed.duckdb"
    rng = random.Random(7)
    kills = 0
    for _ in range(6):  # SIGKILL at a random moment of a run, run after run on the same warehouse
        p = subprocess.Popen([sys.executable, str(script), str(landing), str(killed)])
        time.sleep(rng.uniform(0.2, duration))
        if p.poll() is None:
            p.kill()
            kills += 1
        p.wait()
    # ingestion commits chunk by chunk, so each rerun has less left to do and the later ones
    # often finish before their random kill: at least one run must really have been cut short
    assert kills >= 1
    subprocess.run([sys.executable, str(script), str(landing), str(killed)], check=True, timeout=300)
    assert snapshot(killed) == want
    subprocess.run([sys.executable, str(script), str(landing), str(killed)], check=True, timeout=300)  # and again: no double count
    assert snapshot(killed) == want


# ----------------------------------------------------------------------------- no raw value leaves raw


def _strings(v, out: set[str]) -> None:
    if isinstance(v, str):
        out.add(v)
    elif isinstance(v, dict):
        for x in v.values():
            _strings(x, out)
    elif isinstance(v, list):
        for x in v:
            _strings(x, out)


def test_no_name_or_id_number_of_a_fuzzed_zone_reaches_the_quarantine_or_the_metadata(small_census, tmp_path):
    import dagster as dg

    from census_pipeline.defs.ingestion import assets as ingestion
    from census_pipeline.resources.warehouse import LandingZone, Warehouse

    landing, _ = small_census
    root = tmp_path / "landing"
    shutil.copytree(landing, root)
    # a fuzzed batch: every person's values put where a reason could quote them, with hostile bytes around
    rng = random.Random(5)
    secrets: set[str] = set()
    day = root / "uploads/self/2020-11-04"
    day.mkdir(parents=True, exist_ok=True)
    bad_lines = []
    for i in range(60):
        name, idn = f"欧阳{chr(0x4E00 + rng.randrange(20000))}{chr(0x4E00 + rng.randrange(20000))}", \
            f"{rng.randrange(10**17, 10**18)}"
        secrets |= {name, idn}
        s = json.loads(_sub(f"fz{i}", hh=f"H330106001001007{i:04d}"))
        s["persons"][0].update(name=name, id_number=idn)
        field, value = rng.choice([("status", idn), ("channel", name), ("form", name), ("ea_code", "9" + idn[1:15]),
                                   ("submitted_at", idn), ("h_resident_count", idn), ("persons", {"name": name}),
                                   ("submission_id", int(idn)), ("deaths", name), ("household_id", None)])
        s[field] = value
        raw = json.dumps(s, ensure_ascii=False).encode()
        bad_lines.append(raw + rng.choice([b"\n", b"\r\n", b"\r", b"\x01\n", b"\xff\n"]))
    (day / "fuzz batch [1].jsonl").write_bytes(b"".join(bad_lines))
    (day / "fuzz.jsonl.gz").write_bytes(gzip.compress(b"".join(bad_lines))[:-40])
    (root / "admin/hukou/fuzz.csv").write_bytes(
        b"# encoding: gb18030\nperson_no,id_number,name,sex,birth_date,hukou_region_code,hukou_township_code,"
        b"hukou_address,status,extracted_on\n"
        + "".join(f'{s},{s},"{s},{s}\r\n' for s in sorted(secrets)).encode("gb18030"))
    wh = tmp_path / "w.duckdb"
    result = dg.materialize(
        [ingestion.upload_batches, ingestion.pes_batches, ingestion.listing_frame, ingestion.register_extracts,
         ingestion.quarantine, ingestion.ingest_ledger],
        resources={"warehouse": Warehouse(path=str(wh)), "landing": LandingZone(path=str(root))})
    assert result.success
    con = duckdb.connect(str(wh), read_only=True)
    # every name and ID number of the zone: the census's own and the planted ones
    for q in ["select name from raw.person_lines", "select id_number from raw.person_lines",
              "select name from raw.death_lines", "select id_number from raw.death_lines",
              "select name from raw.hukou_register_received", "select id_number from raw.hukou_register_received",
              "select mother_name from raw.birth_register", "select mother_id_number from raw.birth_register",
              "select child_name from raw.birth_register", "select name from raw.death_register",
              "select id_number from raw.death_register"]:
        for (v,) in con.execute(q).fetchall():
            if isinstance(v, str):
                _strings(json.loads(v) if v.startswith('"') else v, secrets)
    secrets = {s for s in secrets if len(s) >= 2}
    assert len(secrets) > 1000
    reasons = [r[0] for r in con.execute("select reason from quality.quarantine").fetchall()]
    assert len(reasons) > 100  # the fuzz really was quarantined
    metadata = " ".join(repr(e) for e in result.all_events)
    for s in secrets:
        assert s not in metadata
        for r in reasons:
            assert s not in r, r
    ledger = con.execute("select count(*) from quality.ingest_ledger "
                         "where lines_received <> lines_ingested + lines_quarantined").fetchone()[0]
    assert ledger == 0
