"""Ingestion on hostile landing files: every line accounted for, at its true line number.

Property-based (hypothesis): files are built from good submission lines, junk bytes, control
characters, invalid UTF-8, wrong-typed fields, a submission_id again (same or other contents),
blank lines and every line ending (LF, CRLF, a lone CR, none), then written plain, as one gzip
member, as several, or truncated. A small oracle in Python (bytes.split(b"\\n")) says what
each line must become:

- line k is what follows the (k-1)-th '\\n' byte; a final piece without '\\n' is a line;
- CRs right before the '\\n' are its line ending; a lone CR is a byte of its line;
- a blank line (spaces, tabs, CRs) is not received; a BOM at the start of line 1 is ignored;
- a good submission line is ingested whatever its neighbours; any other line is quarantined,
  alone, with its true line number, and its reason never quotes a value.

Each test keeps to a bounded number of examples and its own DuckDB database: a file, or for each
example of the property tests one in memory (what they assert is the same, and a file of its own
cost each example ~40 % more).
"""

from __future__ import annotations

import gzip
import json
import os
import tempfile
import zlib
from pathlib import Path

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from census_pipeline.defs.ingestion import ingest

SETTINGS = settings(max_examples=30, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
DAY = "uploads/pad/2020-11-03"
BOM = "\ufeff".encode()


def person_values(n: int) -> tuple[str, str]:
    """A name and an ID number that occur nowhere else (so a leak is unambiguous)."""
    return "欧阳" + chr(0x4E00 + n * 7 % 20000) + chr(0x4E00 + n * 13 % 20000) + "娜", f"3301061985{n:07d}X"


def submission(n: int, **over) -> dict:
    name, idn = person_values(n)
    s = {"submission_id": f"sid-{n}", "channel": "pad", "form": "short", "status": "final",
         "submitted_at": "2020-11-03T10:22:31+08:00", "enumerator_id": "E330106001001004", "device_id": "PAD-1",
         "household_id": f"H330106001001007{n % 10000:04d}", "ea_code": "330106001001007", "household_type": "1",
         "address": "西湖区某路1号", "h_resident_count": 1, "h_hukou_absent_count": 0,
         "persons": [{"line_no": 1, "name": name, "relationship": "0", "id_type": "1", "id_number": idn,
                      "sex": "1", "birth_ym": "1985-03"}],
         "deaths": [{"name": name + "之父", "id_number": idn[:-1] + "7", "sex": "1", "birth_ym": "1940-01",
                     "death_ym": "2020-02"}]}
    s.update(over)
    return s


def line(s) -> bytes:
    return json.dumps(s, ensure_ascii=False).encode()


# Lines that break the contract in a way that quarantines them; the values that must not leak
# are the person's name and ID number, here also put where a reason might quote them.
def bad_variants(n: int) -> list[dict | list | str]:
    name, idn = person_values(n)
    return [
        submission(n, status=idn),
        submission(n, channel=name),
        submission(n, form=idn),
        submission(n, ea_code="9" + idn[1:15]),
        submission(n, ea_code=name),
        submission(n, submitted_at=name),
        submission(n, h_resident_count=idn),
        submission(n, h_resident_count=18446744073709551615),
        submission(n, h_hukou_absent_count=1.5),
        submission(n, persons={"name": name}),
        submission(n, persons=[None]),
        submission(n, persons=[name]),
        submission(n, household_id=None),
        submission(n, submission_id=int(idn[:-1])),
        [name, idn],
        name,
    ]


# Lines with an optional key of another shape: kept (edit failures, household_submission.md)
def optional_variants(n: int) -> list[dict]:
    name, idn = person_values(n)
    return [
        submission(n, deaths="none"),
        submission(n, deaths={"name": name}),
        submission(n, deaths=[None, name, 5]),
        submission(n, h_births_male="1"),
        submission(n, h_rooms=idn),
        submission(n, h_floor_area_m2=[1, [2, {"a": None}]]),
        submission(n, persons=[{"line_no": "1", "name": None, "id_number": 5, "long": {"a": [None]}}]),
        submission(n, extra={"deep": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}),
        submission(n, address="某" * 20000),
    ]


ENDINGS = [b"\n", b"\n", b"\n", b"\r\n", b"\r\n", b"\r", b"", b"\r\r\n"]
JUNK = st.one_of(
    st.binary(max_size=40),
    st.text(max_size=30).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.sampled_from([b"", b"   ", b"\t", b"\r", b"\x00", b"\x01\x02", b"\xff\xfe", b"\xed\xa0\x80", b"\xc0\xaf",
                     b"{", b"[]", b"null", b'"x"', b"{}", BOM, b"\x1b[2J", b"\xe4\xb8"]),
)


@st.composite
def hostile_file(draw):
    """(bytes of the file, {stripped good line -> submission_id}, every name/ID number in it)."""
    good: dict[bytes, str] = {}
    secrets: set[str] = set()
    parts = []
    if draw(st.booleans()):
        parts.append(BOM)
    n_items = draw(st.integers(1, 12))
    base = draw(st.integers(0, 10**6)) * 100
    used: list[int] = []
    for i in range(n_items):
        n = base + i
        kind = draw(st.sampled_from(["good", "good", "bad", "optional", "junk", "junk", "again"]))
        if kind == "junk":
            body = draw(JUNK)
        elif kind == "again" and used:  # a submission_id once more: the same contents, or others
            m = draw(st.sampled_from(used))
            body = line(submission(m, **draw(st.sampled_from([{}, {"address": "改了"}, {"status": "partial"}]))))
            good[body] = f"sid-{m}"
        elif kind == "again":
            continue
        else:
            if kind == "good":
                obj = submission(n)
            elif kind == "bad":
                obj = draw(st.sampled_from(bad_variants(n)))
            else:
                obj = draw(st.sampled_from(optional_variants(n)))
            body = line(obj)
            secrets.update(person_values(n))
            if kind != "bad":
                good[body] = obj["submission_id"]
                used.append(n)
        parts.append(body + draw(st.sampled_from(ENDINGS)))
    return b"".join(parts), good, secrets


def contents(line: bytes) -> str:
    """A submission as the contract reads it (rules.md: copies "whose contents differ"): every key
    of the contract and of each person, a null written out the same as one left out; keys outside
    the contract, their order and whitespace make no difference."""
    obj = json.loads(line)
    top = [k for k, _, _ in ingest.REQUIRED if k != "persons"] + list(ingest.OPTIONAL_HOUSEHOLD_KEYS) + ["deaths"]
    return json.dumps({**{k: obj.get(k) for k in top},
                       "persons": [{k: p.get(k) for k in ingest.PERSON_KEYS} for p in obj["persons"]]}, sort_keys=True)


def oracle(data: bytes, good: dict[bytes, str]) -> tuple[dict[int, str], set[int], set[int]]:
    """What ingestion must make of each line: {line_no: submission_id} valid (raw.submission_lines),
    {line_no} quarantined by the contract, {line_no} quarantined as conflicting copies (a later
    line with the submission_id of an earlier one and other contents)."""
    valid, quarantined = {}, set()
    pieces = data.split(b"\n")
    for k, piece in enumerate(pieces, start=1):
        try:
            text = piece.decode("utf-8")
        except UnicodeDecodeError:
            quarantined.add(k)
            continue
        if k == 1:
            text = text.lstrip("\ufeff")
        if text.strip(" \t\r") == "":
            continue  # blank: not received
        key = text.strip(" \t\r").encode()
        if key in good:
            valid[k] = (good[key], key)
        else:
            quarantined.add(k)
    first: dict[str, str] = {}
    conflicts = set()
    for k in sorted(valid):
        sid, key = valid[k]
        if first.setdefault(sid, contents(key)) != contents(key):
            conflicts.add(k)
    return {k: v[0] for k, v in valid.items()}, quarantined, conflicts


def ingest_one(root: Path, db: Path | str) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(db))
    ingest.ingest_submissions(con, root, "uploads", ("pad", "self"))
    return con


def reasons(con) -> list[str]:
    return [r[0] for r in con.execute("select reason from raw.rejected_lines union all "
                                      "select reason from raw.submission_conflicts").fetchall()]


def check_accounting(con, name: str, expected_ingested: dict[int, str], expected_bad: set[int],
                     conflicts: set[int] = frozenset(), whole_file_rows: int = 0) -> None:
    """received = ingested + quarantined, one quarantine row per bad line at its line number."""
    received = con.execute("select lines_received from raw.ingest_files where source_file = ?", [name]).fetchone()
    assert received == (len(expected_ingested) + len(expected_bad) + whole_file_rows,)
    got_conflicts = con.execute("select line_no from raw.submission_conflicts where source_file = ?", [name]).fetchall()
    assert sorted(r[0] for r in got_conflicts) == sorted(conflicts)
    bad = con.execute("select line_no from raw.rejected_lines where source_file = ?", [name]).fetchall()
    assert sorted(r[0] for r in bad if r[0] is not None) == sorted(expected_bad)
    assert sum(r[0] is None for r in bad) == whole_file_rows
    got = dict(con.execute("select line_no, submission_id from raw.submission_lines where source_file = ?",
                           [name]).fetchall())
    assert got == expected_ingested  # good lines next to bad ones are ingested
    kept = {r[0] for r in con.execute("select submission_id from raw.household_submissions").fetchall()}
    assert kept == set(expected_ingested.values())
    assert all(r and r.strip() for r in reasons(con))


def assert_no_secret(con, secrets: set[str]) -> None:
    for reason in reasons(con):
        for s in secrets:
            assert s not in reason, reason
            assert s[:-1] not in reason, reason


@SETTINGS
@given(hostile_file(), st.sampled_from(["plain", "gzip", "members"]), st.data())
def test_every_line_is_accounted_for_at_its_true_line_number(f, packing, data):
    content, good, secrets = f
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "landing"
        (root / DAY).mkdir(parents=True)
        name = f"{DAY}/b.jsonl"
        if packing == "plain":
            (root / name).write_bytes(content)
        else:
            name += ".gz"
            cut = data.draw(st.integers(0, len(content))) if packing == "members" else len(content)
            (root / name).write_bytes(gzip.compress(content[:cut]) + (gzip.compress(content[cut:]) if
                                                                    packing == "members" else b""))
        con = ingest_one(root, ":memory:")
        ingested, bad, conflicts = oracle(content, good)
        check_accounting(con, name, ingested, bad, conflicts)
        assert_no_secret(con, secrets)


@SETTINGS
@given(hostile_file(), st.floats(0.0, 1.0))
def test_a_truncated_gzip_keeps_every_complete_line_before_the_damage(f, where):
    content, good, secrets = f
    whole = gzip.compress(content + b"\n" + line(submission(99)) + b"\n")  # never ends cleanly after the cut
    cut = int(len(whole) * where * 0.9)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "landing"
        (root / DAY).mkdir(parents=True)
        name = f"{DAY}/t.jsonl.gz"
        (root / name).write_bytes(whole[:cut])
        con = ingest_one(root, ":memory:")
        # what can be decompressed at all, cut at its last complete line
        d = zlib.decompressobj(wbits=31)
        readable = d.decompress(whole[:cut]) + d.flush()
        kept = readable[: readable.rfind(b"\n") + 1]
        ingested, bad, conflicts = oracle(kept, good)
        rows = con.execute("select line_no, reason from raw.rejected_lines where source_file = ? "
                           "and reason like '%gzip%'", [name]).fetchall()
        if cut == 0:  # an empty file: nothing to read, nothing lost
            assert rows == []
            check_accounting(con, name, {}, set())
        elif not readable:
            assert [r[0] for r in rows] == [None]
            check_accounting(con, name, {}, set(), whole_file_rows=1)
        else:  # the rest of the file: one row, at the first line not read whole
            first = kept.count(b"\n") + 1
            assert rows == [(first, "gzip file is truncated: this line and the rest of the file could not be read")]
            check_accounting(con, name, ingested, bad | {first}, conflicts)
        assert_no_secret(con, secrets)


def test_a_cr_only_file_is_one_line_with_a_reason_that_says_so(tmp_path):
    root = tmp_path / "landing"
    (root / DAY).mkdir(parents=True)
    (root / DAY / "mac.jsonl").write_bytes(b"\r".join(line(submission(i)) for i in range(25)) + b"\r")
    (root / DAY / "mixed.jsonl").write_bytes(line(submission(30)) + b"\r\n" + line(submission(31)) + b"\n"
                                             + line(submission(32)) + b"\r\n")
    con = ingest_one(root, tmp_path / "w.duckdb")
    assert con.execute("select line_no, reason from raw.rejected_lines").fetchall() == [
        (1, "not valid JSON (the line holds a carriage return that does not end it: lines end in LF or CRLF)")]
    assert dict(con.execute("select source_file, lines_received from raw.ingest_files").fetchall()) == {
        f"{DAY}/mac.jsonl": 1, f"{DAY}/mixed.jsonl": 3}
    assert con.execute("select count(*) from raw.household_submissions").fetchone() == (3,)


def test_conflicting_duplicates_are_quarantined_without_their_id(tmp_path):
    root = tmp_path / "landing"
    (root / DAY).mkdir(parents=True)
    name, idn = person_values(5)
    first = submission(5, submission_id=idn)
    (root / DAY / "a.jsonl").write_bytes(line(first) + b"\n" + line(first) + b"\n")
    (root / DAY / "b.jsonl").write_bytes(line(dict(first, address="改了")) + b"\n" + line(first) + b"\n")
    con = ingest_one(root, tmp_path / "w.duckdb")
    assert con.execute("select source_file, line_no from raw.submission_conflicts").fetchall() == [(f"{DAY}/b.jsonl", 1)]
    assert con.execute("select count(*) from raw.household_submissions").fetchone() == (1,)
    assert_no_secret(con, {name, idn})


def test_odd_file_names_and_links_are_read_or_given_a_reason(tmp_path):
    root = tmp_path / "landing"
    day = root / DAY
    day.mkdir(parents=True)
    names = ["with space.jsonl", "中文 名.jsonl", "it's \"quoted\".jsonl", "glob[1]*?.jsonl", "braces{a,b}.jsonl",
             "back\\slash.jsonl"]
    for i, n in enumerate(names):
        (day / n).write_bytes(line(submission(i)) + b"\n")
    os.symlink(day / names[0], day / "link.jsonl")  # a link to a file: read (the copy counts once)
    os.symlink(tmp_path / "nowhere.jsonl", day / "broken.jsonl")  # a broken link: a per-file reason
    elsewhere = tmp_path / "elsewhere" / "2020-11-04"
    elsewhere.mkdir(parents=True)
    (elsewhere / "x.jsonl").write_bytes(line(submission(50)) + b"\n")
    os.symlink(elsewhere, root / "uploads/pad/2020-11-04")  # a linked day folder: read
    os.symlink(root / "uploads", root / "uploads/pad/loop")  # a loop: read once, no hang
    raw_name = os.fsencode(str(day)) + b"/bad\xffname.jsonl"
    with open(raw_name, "wb") as f:
        f.write(line(submission(60)) + b"\n")
    (day / "renamed.jsonl.gz.jsonl").write_bytes(gzip.compress(line(submission(70)) + b"\n"))  # gzip, no .gz
    con = ingest_one(root, tmp_path / "w.duckdb")
    ids = {r[0] for r in con.execute("select submission_id from raw.household_submissions").fetchall()}
    assert ids == {f"sid-{i}" for i in [*range(len(names)), 50, 60, 70]}
    assert con.execute("select source_file, line_no, reason from raw.rejected_lines").fetchall() == [
        (f"{DAY}/broken.jsonl", None, "file cannot be read (FileNotFoundError)")]
    files = dict(con.execute("select source_file, lines_received from raw.ingest_files").fetchall())
    assert files[f"{DAY}/bad\\xffname.jsonl"] == 1 and files[f"{DAY}/broken.jsonl"] == 1


def test_a_file_that_is_not_gzip_and_an_empty_one(tmp_path):
    root = tmp_path / "landing"
    (root / DAY).mkdir(parents=True)
    (root / DAY / "fake.jsonl.gz").write_bytes(line(submission(1)) + b"\n")
    (root / DAY / "empty.jsonl.gz").write_bytes(b"")
    (root / DAY / "empty.jsonl").write_bytes(b"")
    (root / DAY / "garbage-after.jsonl.gz").write_bytes(gzip.compress(line(submission(2)) + b"\n") + b"\x00" * 64)
    con = ingest_one(root, tmp_path / "w.duckdb")
    assert sorted(con.execute("select source_file, line_no, reason from raw.rejected_lines").fetchall()) == [
        (f"{DAY}/fake.jsonl.gz", None, "not a readable gzip file: nothing in it could be read"),
        (f"{DAY}/garbage-after.jsonl.gz", 2, "gzip file is corrupt: this line and the rest of the file could not "
                                             "be read")]
    assert {r[0] for r in con.execute("select submission_id from raw.household_submissions").fetchall()} == {"sid-2"}
    assert dict(con.execute("select source_file, lines_received from raw.ingest_files").fetchall()) == {
        f"{DAY}/fake.jsonl.gz": 1, f"{DAY}/empty.jsonl.gz": 0, f"{DAY}/empty.jsonl": 0,
        f"{DAY}/garbage-after.jsonl.gz": 2}


def test_optional_keys_of_another_shape_are_kept_and_named(tmp_path):
    root = tmp_path / "landing"
    (root / DAY).mkdir(parents=True)
    variants = optional_variants(1)
    (root / DAY / "o.jsonl").write_bytes(b"".join(line(dict(v, submission_id=f"o{i}")) + b"\n"
                                                  for i, v in enumerate(variants)))
    con = ingest_one(root, tmp_path / "w.duckdb")
    got = dict(con.execute("select submission_id, malformed_optional_keys from raw.household_submissions").fetchall())
    assert got == {"o0": "deaths", "o1": "deaths", "o2": "deaths", "o3": "h_births_male", "o4": "h_rooms",
                   "o5": "h_floor_area_m2", "o6": None, "o7": None, "o8": None}
    assert con.execute("select count(*) from raw.rejected_lines").fetchone() == (0,)
    # a deaths array with a null, a string and a number: three death lines with nothing known
    assert con.execute("select count(*), count(name) from raw.death_lines where submission_id = 'o2'").fetchone() == (3, 0)


HEAD = ("person_no,id_number,name,sex,birth_date,hukou_region_code,hukou_township_code,hukou_address,status,"
        "extracted_on")


def register_row(n: int) -> str:
    name, idn = person_values(n)
    return f'P{n},{idn},{name},2,1985-03-12,330106,330106001,"某地址,{n}号",1,2020-10-20'


CSV_JUNK = st.one_of(
    st.text(max_size=30).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.sampled_from([b'"', b'P1,"unclosed', b"a\rb", b"\xff\xfe", b",,,,,,,,,", b"x,y", b'"a""b",c', b"\x00",
                     b'P9,"x\r\n"y",z']),
)


@st.composite
def hostile_csv(draw):
    enc = draw(st.sampled_from([None, "GB18030", "gb18030", "UTF-8"]))
    rows: list[tuple[bytes, str | None]] = []
    base = draw(st.integers(0, 10**6)) * 100
    for i in range(draw(st.integers(0, 10))):
        if draw(st.booleans()):
            rows.append((register_row(base + i).encode(enc or "utf-8"), f"P{base + i}"))
        else:
            rows.append((draw(CSV_JUNK), None))
    endings = [draw(st.sampled_from([b"\n", b"\r\n", b"\n", b"\r\n", b"\r", b""])) for _ in rows]
    head = (f"# encoding: {enc}\n".encode() if enc else b"") + HEAD.encode() + draw(st.sampled_from([b"\n", b"\r\n"]))
    return head, rows, endings, enc


@SETTINGS
@given(hostile_csv())
def test_register_csv_lines_are_each_ingested_or_quarantined_at_their_true_line(f):
    head, rows, endings, enc = f
    data = head + b"".join(r + e for (r, _), e in zip(rows, endings, strict=True))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "landing"
        (root / "admin/hukou").mkdir(parents=True)
        (root / "admin/hukou/h.csv").write_bytes(data)
        con = duckdb.connect(":memory:")
        ingest.ingest_csv_files(con, root, "admin/hukou", "hukou_register", *ingest.REGISTERS["hukou_register"][1:])
        first_data = head.count(b"\n") + 1
        # where each good row is, in the file as written: it is ingested there, whatever its neighbours
        # (unless a row before it did not end its line: then they share a line and are quarantined)
        pieces = data.split(b"\n")
        received = con.execute("select lines_received from raw.ingest_files").fetchone()[0]
        ok = dict(con.execute("select line_no, person_no from raw.hukou_register_received").fetchall())
        bad = [r[0] for r in con.execute("select line_no from raw.rejected_lines").fetchall()]
        assert received == len(ok) + len(bad) and not set(ok) & set(bad) and len(set(bad)) == len(bad)
        nonblank = {k for k, p in enumerate(pieces, start=1)
                    if k >= first_data and p.strip(b" \t\r") and (k > 1 or p.strip(b" \t\r\xef\xbb\xbf"))}
        assert set(ok) | set(bad) == nonblank  # every line exactly once, by its true number
        for (r, key), e in zip(rows, endings, strict=True):
            if key is None:
                continue
            k = data.split(r + e)[0].count(b"\n") + 1
            whole = pieces[k - 1].rstrip(b"\r") == r
            if whole:
                assert ok.get(k) == key
        name_ok = con.execute("select count(*) from raw.hukou_register_received where name like '欧阳%'").fetchone()[0]
        assert name_ok == len(ok)  # GB18030 rows decoded right (no mojibake)
        for (reason,) in con.execute("select reason from raw.rejected_lines").fetchall():
            assert "欧阳" not in reason and "3301061985" not in reason


def test_one_cr_byte_costs_one_line_and_one_crlf_line_costs_nothing(tmp_path):
    """The reported failure: one CR byte made the whole 25-submission batch one quarantine row."""
    root = tmp_path / "landing"
    (root / DAY).mkdir(parents=True)
    lines = [line(submission(i)) for i in range(25)]
    cr = list(lines)
    cr[6] = cr[6].replace("某路".encode(), "某\r路".encode())
    (root / DAY / "cr.jsonl").write_bytes(b"\n".join(cr) + b"\n")
    crlf = [line(submission(100 + i)) for i in range(25)]
    (root / DAY / "crlf.jsonl").write_bytes(b"\n".join(crlf[:9]) + b"\r\n" + b"\n".join(crlf[9:]) + b"\n")
    for name in ("cr.jsonl", "crlf.jsonl"):
        (root / DAY / name).with_suffix(".jsonl.gz").write_bytes(gzip.compress((root / DAY / name).read_bytes()))
    con = ingest_one(root, tmp_path / "w.duckdb")
    assert sorted(con.execute("select source_file, line_no, reason from raw.rejected_lines").fetchall()) == [
        (f"{DAY}/{name}", 7, "not valid JSON (the line holds a carriage return that does not end it: lines end in "
                             "LF or CRLF)") for name in ("cr.jsonl", "cr.jsonl.gz")]
    assert dict(con.execute("select source_file, lines_received from raw.ingest_files").fetchall()) == {
        f"{DAY}/{n}": 25 for n in ("cr.jsonl", "cr.jsonl.gz", "crlf.jsonl", "crlf.jsonl.gz")}
    assert con.execute("select count(*) from raw.household_submissions").fetchone() == (49,)


def test_a_warehouse_of_the_older_layout_is_shredded_once_and_gives_the_same_tables(tmp_path):
    """Before shredding at ingestion, raw.submission_lines held each valid line as JSON text
    (`payload`). Opening such a warehouse converts it once; the derived tables are then the
    same as ingestion of today's layout gives, and a second open changes nothing."""
    root = tmp_path / "landing"
    (root / DAY).mkdir(parents=True)
    subs = [submission(n) for n in range(5)] + [submission(1)]  # a re-delivery too
    (root / DAY / "a.jsonl").write_bytes(b"\n".join(line(s) for s in subs) + b"\n")
    con = ingest_one(root, tmp_path / "new.duckdb")
    expected = sorted(con.execute("select * from raw.person_lines").fetchall())
    households = sorted(con.execute("select * from raw.household_submissions").fetchall())

    old = duckdb.connect(str(tmp_path / "old.duckdb"))
    old.execute("create schema raw")
    old.execute("create table raw.submission_lines (source_file varchar, line_no bigint, upload_date date, "
                "channel_folder varchar, submission_id varchar, content_hash varchar, payload json)")
    rows = con.execute("select source_file, line_no, upload_date, channel_folder, submission_id "
                       "from raw.submission_lines order by line_no").fetchall()
    for r, s in zip(rows, subs, strict=True):  # that layout also hashed each line (no longer read)
        old.execute("insert into raw.submission_lines values (?, ?, ?, ?, ?, md5(?), ?)",
                    [*r, json.dumps(s), json.dumps(s, ensure_ascii=False)])
    ingest.ensure_schema(old)
    cols = [r[0] for r in old.execute("select column_name from information_schema.columns where table_schema = 'raw' "
                                      "and table_name = 'submission_lines'").fetchall()]
    assert "payload" not in cols and "s" in cols
    with ingest.atomic(old):
        ingest.rebuild_submissions(old, "uploads")
    assert sorted(old.execute("select * from raw.person_lines").fetchall()) == expected
    assert sorted(old.execute("select * from raw.household_submissions").fetchall()) == households
    ingest.ensure_schema(old)  # a second open: nothing to convert
    assert old.execute("select count(*) from raw.submission_lines").fetchall() == [(len(subs),)]


def test_a_copy_is_compared_by_its_contents_as_the_contract_reads_them(tmp_path):
    """Re-delivered copies of one submission_id: whitespace, key order, a key outside the contract
    and a null written out instead of left out do not make a copy conflicting; another value of
    a contract key, of a person's or of a death does, and the earliest copy is the one kept."""
    root = tmp_path / "landing"
    (root / DAY).mkdir(parents=True)
    base = submission(1)
    same = [
        json.dumps(base, ensure_ascii=False, indent=1).replace("\n", " "),  # whitespace
        json.dumps(dict(reversed(list(base.items()))), ensure_ascii=False),  # key order
        json.dumps({**base, "app_version": "2.1"}, ensure_ascii=False),  # a key the contract does not have
        json.dumps({**base, "h_rooms": None}, ensure_ascii=False),  # an optional key null instead of absent
    ]
    person = {**base["persons"][0], "sex": "2"}
    death = {**base["deaths"][0], "death_ym": "2020-03"}
    different = [
        json.dumps({**base, "address": "西湖区某路2号"}, ensure_ascii=False),
        json.dumps({**base, "persons": [person]}, ensure_ascii=False),
        json.dumps({**base, "deaths": [death]}, ensure_ascii=False),
        json.dumps({**base, "h_rooms": 3}, ensure_ascii=False),
    ]
    lines = [json.dumps(base, ensure_ascii=False), *same, *different]
    (root / DAY / "a.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    con = ingest_one(root, tmp_path / "w.duckdb")
    conflicts = sorted(r[0] for r in con.execute("select line_no from raw.submission_conflicts").fetchall())
    assert conflicts == list(range(2 + len(same), 2 + len(same) + len(different)))
    assert con.execute("select line_no, redelivered_copies from raw.household_submissions").fetchall() == [
        (1, len(lines) - 1)]
