"""Builders the test modules share, in one place (a test module imports from no other test module).

- The hand-written landing zone of rules.md (`rules_landing_zone`, one household per rule) and its
  parts: `person`, `submission`, `hh_id`, `ident` and the enumeration areas `EA`, `EA2`,
  `EA_UNLISTED_VILLAGE`; tests/integration/test_rules.py asserts each rule on it, and the linkage,
  quality-gate and publication-safety tests build their own zones from the same parts.
- The landing files as the contract lays them out (landing_zone.md): `write_batch` (submissions,
  or raw lines to plant malformed ones), `write_frame` with `frame_row`, `write_hukou_extract`.
- `run_ingest`: the ingestion steps of a run (no Dagster, no dbt) over a landing zone.
- `materialize_into`: one whole in-process materialization of a landing zone; `SAMPLE`, the other
  producer's landing zone (shared/samples).
- `census_cli`, `run_with_deadline`: `census` commands and other processes run as a user runs them,
  under a deadline that ends a stalled one with its stacks.
- `warehouse_path`, `bulletin_folder`: the file behind a warehouse connection, and where the shared
  `built` run published its bulletin (beside its warehouse).
- `debian_tool`, `chromium`, `CHROMIUM_FLAGS`: the Debian tools the e2e tests drive, and how
  headless Chromium is started there (the UI's pages, the printed bulletin).
- `id_number_cases`, `stdnum_valid`: thousands of ID-number-shaped strings and python-stdnum's
  verdict on them, the reference both the Python rules and the dbt macro are checked against.
- `fault_injection`: bench/fault_injection.py (start, kill, watch and finish `census run`s).

Shared fixtures are in tests/conftest.py; the bulletin's expected tables in tests/bulletin_truth.py.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import importlib.util
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb
from stdnum.cn import ric

from census_pipeline.defs.ingestion import ingest
from census_pipeline.lib import idnumber
from census_pipeline.lib.codes import PROJECT_ROOT

EA = "330106001001001"  # 西湖区, township 330106001, village 330106001001
EA2 = "330106001001002"  # listed too
EA_UNLISTED_VILLAGE = "330106001002001"  # its village has no listed EA: rural, flagged


def ident(born: str, seq: int, area: str = "330106") -> str:
    return idnumber.make(area, dt.date.fromisoformat(born), seq)


def person(line_no, name, rel="0", sex="1", born="1980-05-01", seq=None, id_type="1", id_number=None, **items):
    p = {"line_no": line_no, "name": name, "relationship": rel, "id_type": id_type,
         "id_number": id_number if id_number is not None else (ident(born, seq) if seq is not None else None),
         "sex": sex, "birth_ym": born[:7], "ethnicity": "01", "residence": "1", "hukou_place": "1",
         "hukou_region_code": None, "left_hukou_duration": "1", "left_hukou_reason": None,
         "education": "5", "literate": "1", "long": None}
    p.update(items)
    return p


def submission(sid, hh, persons, *, status="final", form="short", at="2020-11-03T10:00:00+08:00", ea=EA,
               channel="pad", htype="1", **extra):
    resident = sum(1 for p in persons if p.get("residence") == "1")
    s = {"submission_id": sid, "channel": channel, "form": form, "status": status, "submitted_at": at,
         "enumerator_id": None if channel == "self" else "E330106001001001", "device_id": None,
         "household_id": hh, "ea_code": ea, "household_type": htype, "address": "某路1号",
         "h_resident_count": resident, "h_hukou_absent_count": len(persons) - resident,
         "h_births_male": 0, "h_births_female": 0, "h_deaths_male": 0, "h_deaths_female": 0,
         "persons": persons, "deaths": []}
    s.update(extra)
    return s


def hh_id(n: int, ea: str = EA) -> str:
    return f"H{ea}{n:04d}"


def write_batch(path: Path, lines) -> None:
    """A batch file: each submission (a dict) one JSON line, a str written as the raw line it is."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line, ensure_ascii=False)) + "\n"
                            for line in lines), encoding="utf-8")


def frame_row(household_id: str, ea: str = EA, urban_rural_code: str = "111", address: str = "某路1号",
              household_type: str = "1", expected_persons: int = 1, listed_on: str = "2020-10-20") -> str:
    """One listed household of the listing frame (摸底底册), a CSV line."""
    return f"{household_id},{ea},{urban_rural_code},{address},{household_type},{expected_persons},{listed_on}"


def write_frame(root: Path, rows, name: str = "listing.csv") -> None:
    """A listing-frame file of `frame_row`s under root/frame."""
    (root / "frame").mkdir(parents=True, exist_ok=True)
    (root / "frame" / name).write_text(
        "household_id,ea_code,urban_rural_code,address,household_type,expected_persons,listed_on\n"
        + "".join(f"{r}\n" for r in rows), encoding="utf-8")


def write_hukou_extract(root: Path, extracted_on: str, rows) -> None:
    """A household-registration extract of CSV rows under root/admin/hukou."""
    (root / "admin/hukou").mkdir(parents=True, exist_ok=True)
    (root / f"admin/hukou/extract_{extracted_on}.csv").write_text(
        "person_no,id_number,name,sex,birth_date,hukou_region_code,hukou_township_code,hukou_address,status,"
        "extracted_on\n" + "".join(f"{r}\n" for r in rows), encoding="utf-8")


DUP = ident("1970-03-03", 11)  # a person counted in two households
NONE_COUNTS = ident("1990-04-04", 21)  # a person with two records, neither counting by the rule


def rules_landing_zone(root: Path, more_submissions=(), more_listed=()) -> None:
    """The landing zone of tests/integration/test_rules.py: one household (hh_id(n)) per rule of
    rules.md; `more_submissions` and `more_listed` (frame rows) are added to its batch and frame."""
    subs = [
        # 1 supersession: the long final outranks a later short final and a later partial
        submission("s1-long", hh_id(1), [person(1, "甲一", seq=1), person(2, "甲二", rel="1", sex="2", seq=2)],
                   form="long", at="2020-11-02T10:00:00+08:00"),
        submission("s1-short", hh_id(1), [person(1, "甲一", seq=1)], at="2020-11-10T10:00:00+08:00"),
        submission("s1-partial", hh_id(1), [person(1, "甲一", seq=1)], status="partial", channel="self",
                   at="2020-11-20T10:00:00+08:00"),
        # 2 no final submission: the pre-registration counts, flagged, on the follow-up list
        submission("s2-pre", hh_id(2), [person(1, "乙一", seq=3)], status="pre_registration",
                   at="2020-10-20T10:00:00+08:00"),
        # 3 standard time and age
        submission("s3", hh_id(3), [
            person(1, "丙一", born="1985-11-01", seq=5),  # 1 November birthday not yet come: 34
            person(2, "丙二", rel="1", sex="2", born="1985-10-31", seq=6),  # 35
            person(3, "丙三", rel="2", born="2020-10-31", seq=7, education=None, literate=None),  # 0, counted
            person(4, "丙四", rel="2", sex="2", born="2020-11-01", seq=8, education=None, literate=None),  # not counted
            person(5, "丙五", rel="2", born="2020-11-01", id_type="9", id_number=None,
                   education=None, literate=None),  # birth month 2020-11 without ID: not counted
        ], at="2020-11-06T10:00:00+08:00"),
        # 4 item precedence: the valid ID outranks the form's sex and birth month
        submission("s4", hh_id(4), [person(1, "丁一", sex="2", born="1975-06-15", seq=9,
                                           birth_ym="1976-01")]),
        # 5 the same ID on two lines with different names: the second line's ID is invalid
        submission("s5", hh_id(5), [person(1, "戊一", seq=13), person(2, "戊二", rel="8", seq=13)]),
        # 6 the resident rule's clauses
        submission("s6", hh_id(6), [
            person(1, "己一", seq=15),  # lives here, hukou here
            person(2, "己二", rel="8", seq=17, hukou_place="4", hukou_region_code="341221",
                   left_hukou_duration="2", left_hukou_reason="1"),  # here < 6 months: counts at hukou place
            person(3, "己三", rel="2", seq=19, residence="6", left_hukou_duration="4",
                   left_hukou_reason="2"),  # studying abroad: counts here
            person(4, "己四", rel="2", seq=23, residence="5", left_hukou_duration="5",
                   left_hukou_reason="1"),  # working in another county: not here
            person(5, "己五", rel="9", seq=25, hukou_place="3", left_hukou_duration=None),  # contradictory: counted
            person(6, "己六", rel="9", id_type="3", id_number="E12345678", seq=None),  # foreigner: not resident pop
        ]),
        # 7 duplicates: counted in two households, the later submission's record survives
        submission("s7", hh_id(7), [person(1, "庚一", seq=27), person(2, "庚二", rel="3", id_number=DUP)],
                   at="2020-11-03T10:00:00+08:00"),
        submission("s8", hh_id(8), [person(1, "辛一", seq=29), person(2, "庚二", rel="3", id_number=DUP)],
                   at="2020-11-05T10:00:00+08:00"),
        # 8 two records, neither counts: the residence-1 record counts, for follow-up
        submission("s9", hh_id(9), [person(1, "壬一", seq=31),
                                    person(2, "壬二", rel="2", id_number=NONE_COUNTS, residence="5",
                                           left_hukou_duration="4", left_hukou_reason="1")]),
        submission("s10", hh_id(10), [person(1, "癸一", seq=33),
                                      person(2, "壬二", rel="9", id_number=NONE_COUNTS, hukou_place="4",
                                             hukou_region_code="330109", left_hukou_duration="2",
                                             left_hukou_reason="1")]),
        # 9 omissions: H3 says 3 living here, 2 lines
        submission("s12", hh_id(12), [person(1, "子一", seq=35), person(2, "子二", rel="1", sex="2", seq=36)],
                   h_resident_count=3),
        # 10 edits: no head, spouse under 18, child too old, education too high, illiterate with schooling,
        #    education and ethnicity missing
        submission("s13", hh_id(13), [
            person(1, "丑一", rel="1", born="1960-01-01", seq=37, ethnicity=None),
            person(2, "丑二", rel="1", sex="2", born="2005-01-01", seq=38),  # spouse aged 15
            person(3, "丑三", rel="2", born="1968-01-01", seq=39, literate="2", education="7"),  # child 8 years younger
            person(4, "丑四", rel="2", born="2010-03-01", seq=41, education="9", literate=None),  # 10 with a doctorate
            person(5, "丑五", rel="2", sex="2", born="1990-03-01", seq=42, education=None),  # missing at 30
        ]),
        # donors for the imputations above
        submission("s14", hh_id(14), [person(1, "寅一", born="1990-07-01", seq=43, education="6"),
                                      person(2, "寅二", rel="2", born="2010-07-01", seq=45, education="3",
                                             literate=None),
                                      person(3, "寅三", rel="1", sex="2", born="1991-07-01", seq=46,
                                             education="7", ethnicity="22")]),
        # 11 household type outside its list: taken from the listing frame (2)
        submission("s15", hh_id(15), [person(1, "卯一", seq=47)], htype="3"),
        # 12 an EA not in the frame: its village's class; a village with no listed EA: rural, flagged
        submission("s16", hh_id(1, EA2[:-3] + "009"), [person(1, "辰一", seq=49)], ea=EA2[:-3] + "009"),
        submission("s17", hh_id(1, EA_UNLISTED_VILLAGE), [person(1, "巳一", seq=51)], ea=EA_UNLISTED_VILLAGE),
    ]
    write_batch(root / "uploads/pad/2020-11-20/batch.jsonl", [*subs, *more_submissions])
    write_frame(root, [
        *(frame_row(hh_id(n), expected_persons=2) for n in range(1, 15)),
        frame_row(hh_id(15), address="某宿舍", household_type="2"),
        frame_row(hh_id(1, EA2), EA2, "112", "某路2号", expected_persons=2),
        *more_listed,
    ])
    write_hukou_extract(root, "2020-10-20", [
        f"R1,{ident('1980-05-01', 1)},甲一,1,1980-05-01,330106,330106001,某地址,1,2020-10-20",  # found by ID
        "R2,33010619800501999X,乙一,1,1980-05-01,330106,330106001,某地址,1,2020-10-20",  # wrong ID, found by name
        f"R3,{ident('1950-02-02', 61)},午一,2,1950-02-02,330106,330106001,某地址,1,2020-10-20",  # nowhere: omission
        f"R4,{ident('1950-02-02', 63)},未一,1,1950-02-02,330106,330106001,某地址,1,2020-10-20",  # moved out later
    ])
    write_hukou_extract(root, "2020-11-20", [f"R4,{ident('1950-02-02', 63)},未一,1,1950-02-02,330106,330106001,某地址,2,2020-11-20"])


def run_ingest(root, db):
    """Ingest every folder of the landing zone `root` into the warehouse `db`, as a run's ingestion
    assets do (census_pipeline/defs/ingestion/assets.py, whose bodies are these calls); returns the
    connection. The batches go through the production `ingest_submissions`, so a second call reads
    only new files and rebuilds only what they changed, as a second run does."""
    con = duckdb.connect(str(db))
    ingest.ingest_submissions(con, root, "uploads", ("pad", "self"))
    ingest.ingest_submissions(con, root, "pes", ("pes",))
    with ingest.atomic(con):
        n = ingest.ingest_csv_files(con, root, "frame", "listing_frame", ingest.FRAME_COLUMNS, "household_id")
        if n or not _table_exists(con, "listing_frame"):
            ingest.rebuild_frame(con)
    with ingest.atomic(con):
        for table, (folder, cols, key) in ingest.REGISTERS.items():
            if ingest.ingest_csv_files(con, root, folder, table, cols, key) or not _table_exists(con, table):
                ingest.rebuild_register(con, table, key)
    return con


def _table_exists(con, table: str) -> bool:
    return con.execute("select count(*) from information_schema.tables where table_schema = 'raw' and table_name = ?",
                       [table]).fetchone()[0] > 0


def warehouse_path(con) -> Path:
    """The file behind a connection (a `built` warehouse: its outputs are in `out/` beside it)."""
    return Path(next(r[2] for r in con.execute("pragma database_list").fetchall() if r[2]))


def bulletin_folder(built) -> Path:
    """The bulletin folder of the shared `built` run (its outputs are in `out/` beside the warehouse)."""
    return warehouse_path(built[1]).parent / "out" / "bulletin"


# the other producer's landing zone (shared/samples), beside the project as CI lays it out
SAMPLE = PROJECT_ROOT.parent / "shared" / "samples" / "landing-sample"


class Terminal(io.StringIO):
    """A terminal for `census run`'s output (its progress line is drawn on terminals only), keeping
    everything it was sent."""

    def isatty(self) -> bool:
        return True


TERMINAL_FILE = "terminal.txt"  # beside the warehouse of materialize_into: what its terminal was sent


def materialize_into(landing: Path, folder: Path):
    """One real materialization of every asset and check over `landing`, in this process, into a
    fresh warehouse and output folder under `folder`, its progress sent to a Terminal kept in
    `folder`/terminal.txt; returns (result, read-only connection)."""
    from unittest import mock

    from census_pipeline.runner import materialize_census

    terminal = Terminal()
    with mock.patch.dict(os.environ, {"CENSUS_LANDING_DIR": str(landing), "CENSUS_WAREHOUSE": str(folder / "w.duckdb"),
                                      "CENSUS_OUTPUT_DIR": str(folder / "out")}):
        result = materialize_census(progress=terminal)
    with open(folder / TERMINAL_FILE, "w", encoding="utf-8", newline="") as f:
        f.write(terminal.getvalue())
    return result, duckdb.connect(str(folder / "w.duckdb"), read_only=True)


def census_cli(args: list[str], env: dict | None = None, timeout: float = 300,
               cwd: str | os.PathLike | None = None) -> subprocess.CompletedProcess:
    """`census <args>` as a user types it (in `cwd`, or the test's folder), with its output (see
    `run_with_deadline`)."""
    return run_with_deadline([CENSUS, *args], env, timeout, cwd)


def debian_tool(command: str, *packages: str) -> str:
    """A Debian tool the e2e tests drive (chromium, pdftotext), installed when missing (CI runs as root)."""
    found = shutil.which(command)
    if not found:
        # one install at a time (both workers may want one; dpkg takes one), each under a deadline
        with open(Path(tempfile.gettempdir()) / "census-tests-apt.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            found = shutil.which(command)  # installed by the other worker meanwhile
            if not found:
                env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
                apt = ["apt-get", "-qq", "-o", "DPkg::Lock::Timeout=300"]
                # (well inside the test's own 15 minutes, lock wait included: a deadline that
                # fires first ends apt cleanly, pytest-timeout's would leave dpkg half done)
                for step, seconds in ((["update"], 180), (["install", "-y", *packages], 420)):
                    done = run_with_deadline([*apt, *step], env, timeout=seconds)
                    assert done.returncode == 0, f"apt-get {step[0]} failed: {done.stderr[-2000:]}"
                found = shutil.which(command)
    assert found, f"{command} could not be installed"
    return found


def chromium() -> str:
    """Headless Chromium, with the CJK fonts the census's pages are written in."""
    return debian_tool("chromium", "chromium", "fonts-noto-cjk")


# as root in a container (no sandbox, no GPU), and no traffic of its own beyond the page it is given
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync")


def stdnum_valid(s: str) -> bool:
    """stdnum's own parts for what rules.md defines: format, real birth date, check character.
    (ric.validate also rejects birth places missing from its county database, which the
    contract does not ask for: a valid number from an unlisted area still counts.)"""
    if not s.strip().isascii():  # stdnum folds full-width digits to ASCII; the contract does not
        return False
    s = ric.compact(s)
    if len(s) != 18 or not s[:17].isdigit() or not s[:17].isascii():
        return False
    try:
        born = ric.get_birth_date(s)
    except Exception:
        return False
    return born >= dt.date(1890, 1, 1) and ric.calc_check_digit(s) == s[17]


def id_number_cases(n: int = 4000) -> list[str]:
    rng = random.Random(20201101)
    out = []
    for _ in range(n):
        born = dt.date(1900, 1, 1) + dt.timedelta(days=rng.randrange(44000))
        valid = idnumber.make(rng.choice(["330106", "341221", "110101"]), born, rng.randrange(1000))
        kind = rng.randrange(6)
        if kind == 0:
            out.append(valid)
        elif kind == 1:  # one digit changed
            i = rng.randrange(17)
            out.append(valid[:i] + str((int(valid[i]) + rng.randrange(1, 10)) % 10) + valid[i + 1:])
        elif kind == 2:  # adjacent digits transposed
            i = rng.randrange(16)
            out.append(valid[:i] + valid[i + 1] + valid[i] + valid[i + 2:])
        elif kind == 3:  # random 18 characters
            out.append("".join(rng.choice("0123456789X") for _ in range(18)))
        elif kind == 4:  # impossible dates
            out.append(valid[:10] + rng.choice(["0230", "1301", "0000", "0431"]) + valid[14:])
        else:  # wrong length
            out.append(valid[: rng.choice([15, 17])])
    return out


_spec = importlib.util.spec_from_file_location("fault_injection", PROJECT_ROOT / "bench" / "fault_injection.py")
fault_injection = sys.modules["fault_injection"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fault_injection)
run_with_deadline = fault_injection.run_with_deadline
CENSUS = fault_injection.CENSUS  # the `census` beside this interpreter
