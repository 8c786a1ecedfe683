"""Landing zone -> restricted `raw` schema, exactly once, with every line accounted for.

Set-based: DuckDB reads each file's bytes (read_blob) and splits them into lines in SQL, so no
byte (a CR, a control character, a byte that is not UTF-8) can cost more than its own line or
shift another line's number (the line rules are under "reading lines" below). SQL validates
the JSON contract; register CSVs are parsed per line with an RFC 4180 field pattern. Python
only lists files and does per-file work: decompress gzip (every member; the readable start of a
damaged file), transcode a GB18030 register extract, link a file whose name DuckDB would glob.

Each step writes in one transaction (atomic()): a kill at any point leaves the warehouse as it
was, and the rerun does the whole step. Quarantine reasons say what is wrong, never the value.

Bookkeeping tables (restricted):
  raw.ingest_files      one row per landing file ever read (what makes a re-run cheap)
  raw.submission_lines  every structurally valid submission line, with its file and line
  raw.rejected_lines    every quarantined line: file, line, reason and the raw text
Derived tables are rebuilt when new files arrive: raw.household_submissions (one row per
submission_id), raw.person_lines, raw.death_lines, the frame and the registers.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import duckdb

from census_pipeline.lib.codes import counties
from census_pipeline.lib.landing_files import (
    ENCODINGS,
    declared_encoding,
    file_size,
    list_files,
    needs_link,
    prepare_file,
    rel,
    upload_date,
    utf8_copy,
)
from census_pipeline.lib.progress import report as report_progress

SUBMISSION_SUFFIXES = (".jsonl", ".jsonl.gz")  # batch files, uploads and survey alike (landing_zone.md)
UPLOAD_CHANNELS = ("pad", "self")  # the folders under uploads/, and the channels their lines may name
CHUNK_BYTES = 256 << 20  # text read per transaction (a gzip file counted at 4x its size)
CHUNK_FILES = 5000
INGEST_WORKERS = 2  # chunks read at once (this machine has 2 cores)


# ----------------------------------------------------------------------------- files


# ----------------------------------------------------------------------------- schema

DDL = """
create schema if not exists raw;
create schema if not exists quality;
create table if not exists raw.ingest_files (
    source_file varchar primary key, kind varchar, upload_date date, size_bytes bigint,
    lines_received bigint, ingested_at timestamptz);
create table if not exists raw.rejected_lines (
    source_file varchar, line_no bigint, reason varchar, raw_text varchar);
create table if not exists raw.derived_from (scope varchar, files bigint);
create table if not exists raw.file_counties (
    source_file varchar, county_code varchar, lines bigint, merged_at timestamptz);
"""


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(DDL)
    # raw.submission_lines holds each valid line shredded once, at the chunk that read it (`s`, the
    # contract's keys; persons as structs): the rebuild after new files never parses JSON again.
    # (A warehouse from before 2026-12-04 also has a content_hash column, no longer written or read.)
    con.execute(submission_lines_ddl("raw.submission_lines"))
    old_layout = con.execute("select count(*) from information_schema.columns where table_schema = 'raw' "
                             "and table_name = 'submission_lines' and column_name = 'payload'").fetchall()[0][0]
    if old_layout:  # a warehouse from before shredding at ingestion: shred what it holds, once
        with atomic(con):
            con.execute(f"""
                create or replace table raw.submission_lines as
                select * exclude (payload), json_transform(payload, '{SUBMISSION_SHAPE}') as s
                from raw.submission_lines
            """)


def submission_lines_ddl(table: str) -> str:
    """SQL: create `table` (if not there) with raw.submission_lines' columns: a line's file, number,
    upload day, channel folder, submission_id and its shredded contents `s`."""
    return f"""
        create table if not exists {table} as
        select null::varchar as source_file, null::bigint as line_no, null::date as upload_date,
               null::varchar as channel_folder, null::varchar as submission_id,
               json_transform('{{}}'::json, '{SUBMISSION_SHAPE}') as s
        where false
    """


def new_files(con: duckdb.DuckDBPyConnection, root: Path, files: Iterable[Path]) -> list[Path]:
    known = {r[0] for r in con.execute("select source_file from raw.ingest_files").fetchall()}
    return [f for f in files if rel(root, f) not in known]


# ----------------------------------------------------------------------------- reading lines

# Line accounting (the rules the ledger and the quarantine follow):
# - a line is what precedes a '\n' byte; line k is the text after the (k-1)-th '\n'. A final
#   piece without '\n' is a line too (a file cut short still has its last line counted);
# - a '\r' right before the '\n' (CRLF) is part of the line ending; a lone '\r' anywhere else is
#   a byte of its line, never a line break (a CR-only file is one line, quarantined with a
#   reason that says so);
# - a blank line (nothing but spaces, tabs, CRs) is not received, but still counts in the
#   numbering; a UTF-8 byte-order mark at the start of line 1 is ignored;
# - a line that is not UTF-8 is quarantined alone (reason only; its bytes go to
#   raw.rejected_lines.raw_text as DuckDB's escaped BLOB text, e.g. `\xFF`).
# DuckDB does the splitting from read_blob (set-based): the CSV reader cannot be stopped from
# treating a lone '\r' as a line break or a control byte as a column break.

BLANK = "' ' || chr(9) || chr(13)"


def _is_blank_sql(piece: str) -> str:
    """SQL: the piece of the file between two '\n' (before _clean_line_sql) is a blank line: it
    holds nothing but spaces, tabs and CRs (a CRLF's CR is one of them), or, on line 1, that
    after a byte-order mark. The first character decides for almost every line (a JSON or CSV
    line starts with none of them), tested with starts_with (a string's first character by
    index cost five times as much); trim() runs only on the rest. Tested on the piece as read,
    not on the cleaned line: a filter on the cleaned line made DuckDB compute the cleaning once
    for each of its references (at 1 M persons, half the cost of reading the files)."""
    first = " or ".join(f"starts_with({piece}, {c})" for c in ("' '", "chr(9)", "chr(13)"))
    return (f"({piece} = '' or (({first}) and trim({piece}, {BLANK}) = '') "
            f"or (line_no = 1 and starts_with({piece}, chr(65279)) and trim(ltrim({piece}, chr(65279)), {BLANK}) = ''))")


def _clean_line_sql(line: str) -> str:
    """SQL: the line without its CRLF's CR, and without a byte-order mark at the start of line 1
    (both tested before anything is copied)."""
    return (f"case when line_no = 1 and starts_with({line}, chr(65279)) then rtrim(ltrim({line}, chr(65279)), chr(13)) "
            f"when ends_with({line}, chr(13)) then rtrim({line}, chr(13)) else {line} end")


def stage_lines(con: duckdb.DuckDBPyConnection, files: dict[str, str]) -> None:
    """Read `files` (path to read -> source_file) into temp tables _lines(source_file, line_no,
    line) and _bad(source_file, line_no, reason, raw_text). Blank lines are dropped. Never
    raises on what the bytes are.

    A UTF-8 file (all of them, in practice) is split as text straight into _lines. A file that is
    not all UTF-8 is split in DuckDB's escaped BLOB text (every '\n' byte is the 4 characters
    `\x0A`, a backslash is `\x5C`: the split is exact), and each piece turned back into bytes and
    decoded: a piece that is not UTF-8 goes to _bad, alone."""
    con.execute("create or replace temp table _names(path varchar, source_file varchar)")
    insert_rows(con, "_names", list(files.items()))
    listing = "[" + ", ".join(_sql_str(f) for f in files) + "]"
    con.execute(f"""
        create or replace temp table _blobs as
        select source_file, text, case when text is null then content end as content  -- bytes kept only if needed
        from (select n.source_file, b.content, try(decode(b.content)) as text
              from read_blob({listing}) b join _names n on n.path = b.filename)
    """)
    con.execute(r"""
        create or replace temp table _esc as
        select source_file, line_no, try(decode(esc::blob)) as line, esc
        from (select source_file, generate_subscripts(parts, 1) as line_no, unnest(parts) as esc
              from (select source_file, string_split(content::varchar, '\x0A') as parts
                    from _blobs where text is null))
    """)
    con.execute(f"""
        create or replace temp table _lines as
        select source_file, line_no, {_clean_line_sql("piece")} as line
        from (select source_file, generate_subscripts(parts, 1) as line_no, unnest(parts) as piece
              from (select source_file, string_split(text, chr(10)) as parts from _blobs where text is not null))
        where not {_is_blank_sql("piece")}
    """)
    con.execute("drop table _blobs")
    con.execute(f"""
        insert into _lines
        select source_file, line_no, {_clean_line_sql("line")} as line from _esc
        where line is not null and not {_is_blank_sql("line")}
    """)
    con.execute("""
        create or replace temp table _bad as
        select source_file, line_no, 'line is not valid UTF-8' as reason, esc as raw_text
        from _esc where line is null
    """)
    con.execute("drop table _esc")


def _empty_staging(con) -> None:
    con.execute("create or replace temp table _lines(source_file varchar, line_no bigint, line varchar)")
    con.execute("create or replace temp table _bad(source_file varchar, line_no bigint, reason varchar, raw_text varchar)")


def read_files(con: duckdb.DuckDBPyConnection, root: Path, paths: list[Path], workdir: Path) -> None:
    """Stage the lines of `paths` into _lines/_bad: every line of every file, or a per-file
    reason for what could not be read (a damaged gzip file keeps the lines before the damage)."""
    readable: dict[str, str] = {}
    file_rows = []
    for i, p in enumerate(paths):
        s = prepare_file(p, workdir, i)
        if s.readable is not None:
            readable[str(s.readable)] = rel(root, p)
        if s.reason is not None:
            file_rows.append((rel(root, p), s.first_bad_line, s.reason, None))
    if readable:
        stage_lines(con, readable)
    else:
        _empty_staging(con)
    if file_rows:
        insert_rows(con, "_bad", file_rows)


def insert_rows(con: duckdb.DuckDBPyConnection, table: str, rows: list[tuple]) -> None:
    """Rows from Python into a table in one statement (its columns' order): executemany runs one
    statement a row, ~0.2 ms each, and holds the Python lock that the other chunk's thread needs
    (a chunk has ~1,000 files, a Hangzhou census ~26,000)."""
    if not rows:
        return
    columns = [list(c) for c in zip(*rows, strict=True)]
    con.execute(f"insert into {table} select {', '.join(f'unnest(${i})' for i in range(1, len(columns) + 1))}",
                columns)


def _sql_str(v: str) -> str:
    return "'" + v.replace("'", "''") + "'"


# ----------------------------------------------------------------------------- submissions

# (key, accepted JSON types, may be JSON null) — household_submission.md "required" keys
REQUIRED = (
    ("submission_id", ("VARCHAR",), False),
    ("channel", ("VARCHAR",), False),
    ("form", ("VARCHAR",), False),
    ("status", ("VARCHAR",), False),
    ("submitted_at", ("VARCHAR",), False),
    ("enumerator_id", ("VARCHAR",), True),
    ("household_id", ("VARCHAR",), False),
    ("ea_code", ("VARCHAR",), False),
    ("household_type", ("VARCHAR",), False),
    ("address", ("VARCHAR",), False),
    ("h_resident_count", ("UBIGINT", "BIGINT"), False),
    ("h_hukou_absent_count", ("UBIGINT", "BIGINT"), False),
    ("persons", ("ARRAY",), False),
)
ENUMS = {
    "form": ("short", "long"),
    "status": ("pre_registration", "final", "partial"),
}
TYPE_WORDS = {"VARCHAR": "a string", "UBIGINT": "an integer", "BIGINT": "an integer", "ARRAY": "an array"}


PERSON_KEYS = ("line_no", "name", "relationship", "id_type", "id_number", "sex", "birth_ym", "ethnicity",
               "residence", "hukou_place", "hukou_region_code", "left_hukou_duration", "left_hukou_reason",
               "education", "literate", "long")
DEATH_KEYS = ("name", "sex", "birth_ym", "death_ym", "id_number")
OPTIONAL_HOUSEHOLD_KEYS = ("device_id", "h_births_male", "h_births_female", "h_deaths_male", "h_deaths_female",
                           "h_floor_area_m2", "h_rooms")


CHECKED_VALUES = ("channel", "form", "status", "submitted_at", "ea_code", "h_resident_count", "h_hukou_absent_count")


def _checked_sql(channels: tuple[str, ...], source: str = "_lines") -> str:
    """Select over temp table `source` (_lines) giving each line's first contract violation (or null).

    A reason says what is wrong, never what the value was (a value may be a name or an ID
    number; the raw line stays in the restricted raw.rejected_lines). Each line is parsed a
    handful of times, not once per key: json_type and json_extract_string take a list of paths
    (the line's own type is the first path of the list, '$')."""
    paths = ", ".join(f"'$.{k}'" for k, _, _ in REQUIRED)
    value_paths = ", ".join(f"'$.{k}'" for k in CHECKED_VALUES)
    whens = [
        "when line is null and contains(raw_text, chr(13)) then 'not valid JSON (the line holds a carriage "
        "return that does not end it: lines end in LF or CRLF)'",
        "when line is null then 'not valid JSON'",
        "when top_type <> 'OBJECT' then 'not a JSON object (got ' || lower(top_type) || ')'",
    ]
    v = {k: f"vals[{i}]" for i, k in enumerate(CHECKED_VALUES, start=1)}
    for i, (key, types, nullable) in enumerate(REQUIRED, start=2):  # types[1] is the line's own
        ok = ", ".join(f"'{x}'" for x in types + (("NULL",) if nullable else ()))
        want = TYPE_WORDS[types[0]] + (" or null" if nullable else "")
        whens.append(f"when types[{i}] is null then 'missing required key \"{key}\"'")
        whens.append(f"when types[{i}] not in ({ok}) then '\"{key}\" must be {want} (got ' || lower(types[{i}]) || ')'")
        if "BIGINT" in types:
            whens.append(f"when types[{i}] = 'UBIGINT' and try_cast({v[key]} as bigint) is null "
                         f"then '\"{key}\" is outside the 64-bit integer range'")
    for key, values in dict(ENUMS, channel=channels).items():
        vals = ", ".join(f"'{x}'" for x in values)
        whens.append(f"when {v[key]} not in ({vals}) then '\"{key}\" must be one of {'/'.join(values)}'")
    county_list = _area_sql()
    whens += [
        f"when not regexp_full_match({v['submitted_at']}, "
        "'\\d{4}-\\d{2}-\\d{2}[T ]\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?(Z|[+-]\\d{2}:?\\d{2})') "
        f"or try_cast({v['submitted_at']} as timestamptz) is null "
        "then '\"submitted_at\" is not an ISO-8601 timestamp with offset'",
        "when list_filter(person_types, lambda t: t <> 'OBJECT') <> [] then '\"persons\" must be an array of objects'",
        f"when not regexp_full_match({v['ea_code']}, '\\d{{15}}') then '\"ea_code\" must be 15 digits'",
        f"when substr({v['ea_code']}, 1, 6) not in ({county_list}) "
        "then '\"ea_code\" names a county outside the census area (codes/regions.csv)'",
    ]
    return f"""
        with parsed as (  -- invalid JSON becomes null first, so no JSON function sees it
            select source_file, line_no, line as raw_text, case when json_valid(line) then line end as line
            from {source}
        ),
        typed as (
            select *, json_type(line, ['$', {paths}]) as types,
                   json_extract_string(line, [{value_paths}]) as vals,
                   json_type(line, '$.persons[*]') as person_types
            from parsed
        )
        select source_file, line_no, raw_text, line, case {" ".join(whens)} end as reason
        from (select *, types[1] as top_type from typed)
    """


_OPEN: set[int] = set()  # connections inside an atomic() block (DuckDB aborts on a nested BEGIN)


@contextlib.contextmanager
def atomic(con: duckdb.DuckDBPyConnection):
    """One DuckDB transaction around a step's writes (a kill at any point leaves the warehouse
    as it was before the step); inside an atomic() block of the same connection, just that one."""
    if id(con) in _OPEN:
        yield
        return
    con.execute("begin")
    _OPEN.add(id(con))
    try:
        yield
    except BaseException:
        _OPEN.discard(id(con))
        con.execute("rollback")
        raise
    _OPEN.discard(id(con))
    con.execute("commit")


def ingest_submission_files(con, root: Path, sub: str, channels: tuple[str, ...], route: bool = False) -> int:
    """Read new batch files under root/sub into raw.submission_lines; returns files read.

    One transaction per chunk of files: a chunk's ledger rows, lines and quarantine rows are
    committed together or not at all, so a kill loses at most the chunks being read and the
    rerun reads exactly the files the ledger does not have. (One transaction for the whole
    landing zone kept every chunk's work tables until the end: at 12 M persons, 21 GB of spill
    in ten minutes and growing.) INGEST_WORKERS chunks are read at once, each on its own
    connection: most of a chunk's work runs on one core (one writer per table insert, line
    splitting per file), and appends from two transactions do not conflict. `route`: the
    files are only routed to their counties' steps (route_chunk), not ingested."""
    ensure_schema(con)
    todo = new_files(con, root, list_files(root, sub, SUBMISSION_SUFFIXES))
    parts = list(chunks(todo))
    if not parts:
        return 0
    kind = _LEDGER_KIND[sub == "pes"]
    local = threading.local()
    cursors: list[duckdb.DuckDBPyConnection] = []

    def work(i: int, chunk: list[Path], tmp: str) -> int:
        if not hasattr(local, "con"):
            local.con = con.cursor()  # a connection of its own: its own transaction and temp tables
            cursors.append(local.con)
        workdir = Path(tmp) / str(i)
        workdir.mkdir()
        if route:
            _route_chunk(local.con, root, chunk, workdir, channels)
        else:
            _ingest_chunk(local.con, root, chunk, workdir, kind, channels)
        shutil.rmtree(workdir)
        return len(chunk)

    with tempfile.TemporaryDirectory(prefix="census-ingest-") as tmp, \
            ThreadPoolExecutor(max_workers=min(INGEST_WORKERS, len(parts))) as pool:
        futures = [pool.submit(work, i, chunk, tmp) for i, chunk in enumerate(parts)]
        files_done = 0
        try:
            for done in as_completed(futures):
                n = done.result()
                files_done += n
                report_progress(files_done, len(todo), "batch files routed" if route else "batch files")
        except BaseException:
            for f in futures:  # chunks not started stay unread; the one running finishes its transaction
                f.cancel()
            raise
        finally:
            pool.shutdown(wait=True)
            for c in cursors:
                c.close()
    return len(todo)


def _ingest_chunk(con, root: Path, chunk: list[Path], workdir: Path, kind: str, channels: tuple[str, ...]) -> None:
    """One chunk of batch files, in one transaction: ledger rows, quarantined lines and every
    valid line shredded into raw.submission_lines."""
    with atomic(con):
        read_files(con, root, chunk, workdir)
        record_files(con, root, chunk, kind)
        _check_and_shred(con, channels, "_lines")
        con.execute("drop table _lines; drop table _bad")


def _check_and_shred(con, channels: tuple[str, ...], source: str, lines: str = "raw.submission_lines",
                     rejected: str = "raw.rejected_lines") -> None:
    """The staged lines of temp table `source` checked against the contract: each violation into
    `rejected` with its reason, every other line shredded into `lines` (inside the caller's
    transaction)."""
    # the quarantined lines only (few): the valid ones are read from `source` again below
    con.execute(f"""
        create or replace temp table _checked as
        select source_file, line_no, reason, raw_text from ({_checked_sql(channels, source)})
        where reason is not null
    """)
    con.execute(f"insert into {rejected} select source_file, line_no, reason, raw_text from _checked")
    con.execute(f"""
        insert into {lines} by name
        select source_file, line_no,
               try_cast(split_part(source_file, '/', -2) as date) as upload_date,
               split_part(source_file, '/', 2) as channel_folder,
               s.submission_id, s
        from (select source_file, line_no, json_transform(line, '{SUBMISSION_SHAPE}') as s
              from {source} anti join _checked using (source_file, line_no))
    """)
    con.execute("drop table _checked")


def chunks(paths: list[Path]) -> Iterable[list[Path]]:
    """The files in transactions of about CHUNK_BYTES of text each: large enough that DuckDB
    works on both cores (a few hundred thousand lines), small enough to stay well inside its
    memory limit; a kill loses at most the chunk being read."""
    chunk: list[Path] = []
    size = 0
    for p in paths:
        n = (file_size(p) or 0) * (4 if p.name.endswith(".gz") else 1)
        if chunk and (size + n > CHUNK_BYTES or len(chunk) >= CHUNK_FILES):
            yield chunk
            chunk, size = [], 0
        chunk.append(p)
        size += n
    if chunk:
        yield chunk


_LEDGER_KIND = {False: "submission", True: "pes"}  # raw.ingest_files.kind of census and PES batches


def ingest_submissions(con, root: Path, sub: str, channels: tuple[str, ...], scope: str | None = None) -> int:
    """New batch files in (committed chunk by chunk), then the derived submission tables rebuilt
    in one transaction whenever they were not built from every file the ledger holds: the
    rebuild records how many ledger files it saw (raw.derived_from), so a kill after some
    chunks and before the rebuild is found and mended by the next run."""
    scope = scope or ("pes" if sub == "pes" else "uploads")
    ensure_schema(con)
    if scope == "uploads":  # lines routed to county steps (census_ingest_by_county) come in first
        finish_routed(con, root, channels)
    n = ingest_submission_files(con, root, sub, channels)
    rebuild_if_needed(con, scope)
    return n


def rebuild_if_needed(con, scope: str) -> None:
    """The derived submission tables rebuilt (one transaction) unless built from every file the
    ledger holds and every county part merged since (raw.derived_from holds that count)."""
    t = SUBMISSION_SCOPES[scope]
    derived = [f"raw.{t or 'household_'}submissions", f"raw.{t}person_lines", f"raw.{t}submission_conflicts"]
    derived += [] if t else ["raw.death_lines"]
    kind = _LEDGER_KIND[scope == "pes"]
    files = con.execute("select count(*) from raw.ingest_files where kind = ?", [kind]).fetchall()[0][0]
    if scope == "uploads":  # a county's lines merged later change the tables too
        files += con.execute("select count(*) from raw.file_counties where merged_at is not null").fetchall()[0][0]
    built = con.execute("select max(files) from raw.derived_from where scope = ?", [scope]).fetchall()[0][0]
    if built != files or not all(_table_exists(con, d) for d in derived):
        with atomic(con):
            rebuild_submissions(con, scope)
            con.execute("delete from raw.derived_from where scope = ?", [scope])
            con.execute("insert into raw.derived_from values (?, ?)", [scope, files])


def _table_exists(con, table: str) -> bool:
    schema, name = table.split(".")
    return bool(con.execute("select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
                            [schema, name]).fetchone()[0])


# ----------------------------------------------------------------------------- county by county

# The province path (issue 14, docs/scale-out.md "Ingestion per county"): a batch file may hold
# several counties' households, so upload ingestion comes in three kinds of step:
#   route_submission_files  reads each new file once: its ledger row, the lines that name no county
#                           of the census area quarantined (the contract check's own reason), and
#                           raw.file_counties: (file, county, lines, merged_at null) per county named;
#   ingest_county           one county, into a DuckDB file of its own (<warehouse>.counties/C.duckdb:
#                           counties never share a writer): the files holding its lines, read again,
#                           its lines checked and shredded as ingest_submission_files does, and each
#                           file recorded done in the same transaction as its lines;
#   merge_counties          the warehouse's writer again: each county's finished lines copied in and
#                           their (file, county) rows marked merged, in one transaction per county.
# Exactly-once holds per (file, county). ingest_submissions (census run) merges what county steps
# finished and reads any lines still waiting itself, so a county never left over is lost.

COUNTY_DDL = """
create table if not exists done (source_file varchar primary key, lines bigint, done_at timestamptz);
create table if not exists rejected_lines (source_file varchar, line_no bigint, reason varchar, raw_text varchar);
"""


def county_folder(warehouse: str | Path) -> Path:
    """The county steps' DuckDB files: beside the warehouse, `<warehouse>.counties/<county>.duckdb`."""
    w = Path(warehouse)
    return w.with_name(w.name + ".counties")


def _area_sql() -> str:
    """SQL: the census area's county codes, a list for `in (...)` (codes/regions.csv)."""
    return ", ".join(f"'{c}'" for c in counties())


def _county_sql(line: str) -> str:
    """SQL: the county a line names (the first 6 characters of its `$.ea_code`); null for a line
    that is not JSON or has no such key. A line that names no county of the census area cannot
    pass the contract."""
    return f"substr(json_extract_string(case when json_valid({line}) then {line} end, '$.ea_code'), 1, 6)"


def _route_chunk(con, root: Path, chunk: list[Path], workdir: Path, channels: tuple[str, ...]) -> None:
    """One chunk of new batch files routed, in one transaction (see above)."""
    with atomic(con):
        read_files(con, root, chunk, workdir)
        record_files(con, root, chunk, _LEDGER_KIND[False])
        con.execute(f"""
            create or replace temp table _routed as
            select source_file, line_no, county_code
            from (select source_file, line_no,
                         case when c in ({_area_sql()}) then c end as county_code
                  from (select source_file, line_no, {_county_sql("line")} as c from _lines))
        """)
        con.execute("""
            create or replace temp table _nowhere as
            select * from _lines semi join (from _routed where county_code is null) using (source_file, line_no)
        """)
        con.execute(f"""
            insert into raw.rejected_lines
            select source_file, line_no, coalesce(reason, 'the line names no county of the census area'), raw_text
            from ({_checked_sql(channels, "_nowhere")})
        """)
        con.execute("""
            insert into raw.file_counties
            select source_file, county_code, count(*), null from _routed where county_code is not null
            group by all order by all
        """)
        con.execute("drop table _routed; drop table _nowhere; drop table _lines; drop table _bad")


def route_submission_files(con, root: Path, channels: tuple[str, ...] = UPLOAD_CHANNELS) -> int:
    """New upload batch files routed to their counties (one transaction per chunk); returns files read."""
    return ingest_submission_files(con, root, "uploads", channels, route=True)


def pending_by_county(con, root: Path) -> dict[str, list[tuple[str, int]]]:
    """county -> [(path of a file holding lines of it not yet in the warehouse, those lines)]."""
    rows = con.execute("select county_code, source_file, lines from raw.file_counties where merged_at is null "
                       "order by all").fetchall()
    if not rows:
        return {}
    paths = {rel(root, p): p for p in list_files(root, "uploads", SUBMISSION_SUFFIXES)}
    out: dict[str, list[tuple[str, int]]] = {}
    for county, name, lines in rows:
        out.setdefault(county, []).append((str(paths.get(name, root / name)), lines))
    return out


def _county_chunk(con, root: Path, chunk: list[tuple[Path, int]], workdir: Path, county: str,
                  channels: tuple[str, ...], lines: str, rejected: str, mark: Callable[[list], None]) -> None:
    """One chunk of a county's files, in one transaction: that county's lines checked and shredded
    into `lines` / `rejected`, and `mark` told which files (name, lines) are done."""
    with atomic(con):
        read_files(con, root, [p for p, _ in chunk], workdir)  # (their unreadable lines were quarantined when routed)
        con.execute(f"create or replace temp table _mine as select * from _lines where {_county_sql('line')} = ?",
                    [county])
        found = dict(con.execute("select source_file, count(*) from _mine group by all").fetchall())
        names = [(rel(root, p), n) for p, n in chunk]
        changed = [name for name, n in names if found.get(name, 0) != n]
        if changed:  # a landing file never changes once complete (landing_zone.md): say so, lose nothing
            raise RuntimeError(f"{len(changed)} landing file(s) no longer hold the lines of county {county} they "
                               f"held when routed, first: {changed[0]}. A routed file must stay in the landing "
                               "zone, unchanged, until its counties are ingested (landing_zone.md: a complete file "
                               "never changes): put it back as it was, then run again")
        _check_and_shred(con, channels, "_mine", lines, rejected)
        mark(names)
        con.execute("drop table _mine; drop table _lines; drop table _bad")


def ingest_county(db: Path, root: Path, county: str, files: list[tuple[str, int]],
                  channels: tuple[str, ...] = UPLOAD_CHANNELS) -> int:
    """County `county`'s lines of `files` ([(path, lines)], pending_by_county) into the DuckDB file
    `db`, its own: one transaction per chunk; files it holds already are skipped (a rerun after a
    crash does the rest). Returns the files read."""
    from census_pipeline.lib.duckdb_settings import duckdb_settings

    db.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(db), config=duckdb_settings(str(db)))
    try:
        with atomic(con):  # (a kill while the file is created leaves none of its tables)
            con.execute(COUNTY_DDL + submission_lines_ddl("submission_lines"))
        done = {r[0] for r in con.execute("select source_file from done").fetchall()}
        todo = [(Path(p), n) for p, n in files if rel(root, Path(p)) not in done]

        def mark(names: list) -> None:
            con.execute("insert into done select unnest($1), unnest($2), now()",
                        [[name for name, _ in names], [n for _, n in names]])

        _read_county(con, root, county, todo, channels, "submission_lines", "rejected_lines", mark)
        return len(todo)
    finally:
        con.close()


def _read_county(con, root: Path, county: str, files: list[tuple[Path, int]], channels: tuple[str, ...],
                 lines: str, rejected: str, mark: Callable[[list], None]) -> None:
    """`county`'s lines of `files` [(path, lines routed)] into `lines` / `rejected`, in chunks()
    of one transaction each (_county_chunk); each chunk's decompressed copies removed after it."""
    routed = dict(files)
    with tempfile.TemporaryDirectory(prefix="census-county-") as tmp:
        for i, chunk in enumerate(chunks([p for p, _ in files])):
            workdir = Path(tmp) / str(i)
            workdir.mkdir()
            _county_chunk(con, root, [(p, routed[p]) for p in chunk], workdir, county, channels, lines, rejected,
                          mark)
            shutil.rmtree(workdir)


def _database_file(con) -> str | None:
    path = con.execute("select path from duckdb_databases() where database_name = current_database()").fetchall()
    return path[0][0] if path and path[0][0] else None


def merge_counties(con) -> dict[str, int]:
    """Every county step's finished files copied into the warehouse (one transaction per county),
    their (file, county) rows marked merged; then the county's file goes (what it held of use is in
    the warehouse; work for another routing, or merged already, goes with it). Returns county ->
    files merged. (The county files are beside the warehouse `con` has open; its schema is ensured
    by the caller.)"""
    folder = county_folder(w) if (w := _database_file(con)) else None
    merged: dict[str, int] = {}
    if folder is None or not folder.is_dir():
        return merged
    for db in sorted(folder.glob("*.duckdb")):
        county = db.stem
        con.execute(f"attach {_sql_str(str(db))} as county_part (read_only)")
        try:
            tables = {r[0] for r in con.execute("select table_name from duckdb_tables() "
                                                "where database_name = 'county_part'").fetchall()}
            complete = {"done", "submission_lines", "rejected_lines"} <= tables  # (else killed while created)
            merged[county] = _merge_county(con, county) if complete else 0
        finally:
            con.execute("detach county_part")
        for leftover in (db, db.with_name(db.name + ".wal")):  # all it held of use is in the warehouse now
            leftover.unlink(missing_ok=True)
    return merged


def _merge_county(con, county: str) -> int:
    """The attached county_part's finished files copied in, in one transaction; returns how many.
    Only work done for the routing the warehouse holds: after the file was routed (a county file
    left from an earlier warehouse or landing zone is not) and for the lines routed to the county."""
    with atomic(con):
        con.execute("""
            create or replace temp table _m as
            select d.source_file from county_part.done d
            join raw.file_counties f on f.source_file = d.source_file and f.county_code = ? and f.merged_at is null
            join raw.ingest_files i on i.source_file = d.source_file
            where d.done_at >= i.ingested_at and d.lines = f.lines
        """, [county])
        con.execute("insert into raw.submission_lines by name "
                    "select * from county_part.submission_lines semi join _m using (source_file)")
        con.execute("insert into raw.rejected_lines "
                    "select * from county_part.rejected_lines semi join _m using (source_file)")
        con.execute("update raw.file_counties set merged_at = now() "
                    "where county_code = ? and source_file in (select source_file from _m)", [county])
        n = con.execute("select count(*) from _m").fetchall()[0][0]
        con.execute("drop table _m")
    return n


def finish_routed(con, root: Path, channels: tuple[str, ...] = UPLOAD_CHANNELS) -> int:
    """What county steps finished, merged; the lines of any county whose step has not run, read
    into the warehouse here (one transaction per chunk, marked merged with its lines). Returns the
    (file, county) parts read here. The caller has ensured the schema."""
    merge_counties(con)
    parts = 0
    for county, files in pending_by_county(con, root).items():
        def mark(names: list, county: str = county) -> None:
            con.execute("update raw.file_counties set merged_at = now() where county_code = ? "
                        "and source_file in (select unnest(?))", [county, [name for name, _ in names]])

        _read_county(con, root, county, [(Path(p), n) for p, n in files], channels, "raw.submission_lines",
                     "raw.rejected_lines", mark)
        parts += len(files)
    return parts


def record_files(con, root: Path, paths: list[Path], kind: str) -> None:
    """Ledger rows for the staged files, and their unreadable lines into raw.rejected_lines:
    lines received = readable non-blank lines + lines the reader or the gzip salvage rejected."""
    rows = [(rel(root, p), kind, upload_date(rel(root, p)), file_size(p)) for p in paths]
    con.execute("create or replace temp table _files(source_file varchar, kind varchar, upload_date date, "
                "size_bytes bigint)")
    insert_rows(con, "_files", rows)
    con.execute("""
        insert into raw.ingest_files
        select f.*, coalesce(l.n, 0) + coalesce(b.n, 0), now()
        from _files f
        left join (select source_file, count(*) as n from _lines group by all) l using (source_file)
        left join (select source_file, count(*) as n from _bad group by all) b using (source_file)
    """)
    con.execute("insert into raw.rejected_lines select source_file, line_no, reason, raw_text from _bad")


def _shape(keys: tuple[str, ...], typed: dict[str, str] | None = None) -> str:
    """A json_transform structure: every key kept as raw JSON unless given a type."""
    typed = typed or {}
    return "{" + ", ".join(f'"{k}": "{typed.get(k, "JSON")}"' for k in keys) + "}"


SUBMISSION_SHAPE = _shape(
    tuple(k for k, _, _ in REQUIRED) + OPTIONAL_HOUSEHOLD_KEYS + ("deaths",),
    {"submission_id": "VARCHAR", "channel": "VARCHAR", "form": "VARCHAR", "status": "VARCHAR",
     "submitted_at": "VARCHAR", "enumerator_id": "VARCHAR", "household_id": "VARCHAR", "ea_code": "VARCHAR",
     "household_type": "VARCHAR", "address": "VARCHAR", "h_resident_count": "BIGINT",
     "h_hukou_absent_count": "BIGINT", "deaths": "JSON"},
).replace('"persons": "JSON"', '"persons": [' + _shape(PERSON_KEYS) + "]")  # each person object shredded too


# Optional household keys and the JSON types the contract allows them (absent is always fine).
# Another type is an edit failure, not a reason to quarantine (household_submission.md): the
# submission is kept, the value stays as uploaded (JSON) and the key is named in
# raw.household_submissions.malformed_optional_keys (comma-separated names, never the value; null
# when none).
_INT = ("BIGINT", "UBIGINT", "NULL")
OPTIONAL_TYPES = {
    "device_id": ("VARCHAR", "NULL"),
    "h_births_male": _INT, "h_births_female": _INT, "h_deaths_male": _INT, "h_deaths_female": _INT,
    "h_floor_area_m2": ("BIGINT", "UBIGINT", "DOUBLE", "NULL"),
    "h_rooms": _INT,
    "deaths": ("ARRAY", "NULL"),
}


def _malformed_optional_sql() -> str:
    """SQL: the optional keys of _kept whose JSON type the contract does not allow, comma-separated."""
    items = []
    for key, ok in OPTIONAL_TYPES.items():
        allowed = ", ".join(f"'{t}'" for t in ok)
        cond = f"json_type(s.{key}) not in ({allowed})"  # the key's own JSON, not the whole line again
        if key == "deaths":  # an array, of objects: a null or a string in it is a death with nothing known
            cond += " or list_filter(json_type(s.deaths, '$[*]'), lambda t: t <> 'OBJECT') <> []"
        items.append(f"case when {cond} then '{key}' end")
    return f"nullif(array_to_string(list_filter([{', '.join(items)}], lambda k: k is not null), ','), '')"


SUBMISSION_SCOPES = {"uploads": "", "pes": "pes_"}  # landing folder: prefix of its raw tables


def rebuild_submissions(con, scope: str = "uploads") -> None:
    """One row per submission_id (the copy in the earliest upload folder, then file name, then
    line); copies with other contents are conflicting re-deliveries, quarantined. The contents
    compared are the submission as the contract reads it (`s`: every key of the contract, persons
    and deaths; whitespace, key order, keys outside the contract and a null written out or left
    out make no difference), compared only for submission_ids delivered more than once: hashing
    every line as it was read cost a seventh of ingestion's CPU. No JSON is parsed here: each line
    was shredded when its chunk was read, so a nightly run with a few new files costs a ranking of
    narrow columns and a copy of the kept rows. `scope`: the census uploads
    (raw.household_submissions, person_lines, death_lines) or the post-enumeration survey
    (raw.pes_submissions, pes_person_lines), kept apart (rules.md). The survey's deaths are not
    split out: the survey counts who lived in the household at the standard time, and nothing
    reads a death it reports (its count stays in pes_submissions.death_line_count)."""
    t = SUBMISSION_SCOPES[scope]
    con.execute(f"""
        create or replace temp table _copies as  -- narrow: the shredded rows are joined once, by rowid
        select rowid as line_id, source_file, line_no, submission_id,
               row_number() over (partition by submission_id
                   order by upload_date nulls last, split_part(source_file, '/', -1), source_file, line_no) as copy_rank,
               count(*) over (partition by submission_id) as n_copies
        from raw.submission_lines
        where source_file like '{scope}/%'
    """)
    con.execute(f"""
        create or replace table raw.{t}submission_conflicts as
        with copies as (  -- the contents of the submissions delivered more than once (a few %)
            select rowid as line_id, s from raw.submission_lines
            where submission_id in (select submission_id from _copies where n_copies > 1)
        )
        select c.source_file, c.line_no, c.submission_id,
               'conflicting re-delivery: differs from the copy of its submission_id kept from '
               || w.source_file || ' line ' || w.line_no as reason
        from _copies c
        join _copies w on w.submission_id = c.submission_id and w.copy_rank = 1
        join copies as cs on cs.line_id = c.line_id
        join copies as ws on ws.line_id = w.line_id
        where c.copy_rank > 1 and cs.s is distinct from ws.s
    """)
    con.execute("""
        create or replace temp view _kept as
        select l.submission_id, l.upload_date, l.source_file, l.line_no, k.n_copies - 1 as redelivered_copies, l.s
        from raw.submission_lines l join (select line_id, n_copies from _copies where copy_rank = 1) k
             on l.rowid = k.line_id
    """)
    optional = ", ".join(f"s.{k}" for k in OPTIONAL_HOUSEHOLD_KEYS)
    con.execute(f"""
        create or replace table raw.{"pes_submissions" if t else "household_submissions"} as
        select submission_id, s.channel, s.form, s.status, cast(s.submitted_at as timestamptz) as submitted_at,
               s.enumerator_id, s.household_id, s.ea_code, substr(s.ea_code, 1, 6) as county_code,
               s.household_type, s.address, s.h_resident_count, s.h_hukou_absent_count, {optional},
               len(s.persons) as person_line_count,
               case when json_type(s.deaths) = 'ARRAY' then json_array_length(s.deaths) else 0 end as death_line_count,
               upload_date, source_file, line_no, redelivered_copies,
               {_malformed_optional_sql()} as malformed_optional_keys
        from _kept
    """)
    con.execute(f"""
        create or replace table raw.{t}person_lines as
        select submission_id, person_index, p.*
        from (
            select submission_id, generate_subscripts(s.persons, 1) as person_index, unnest(s.persons) as p
            from _kept
        )
    """)
    if t:
        con.execute(f"drop table if exists raw.{t}death_lines")  # built by earlier versions, never read
    else:
        con.execute(f"""
            create or replace table raw.death_lines as
            select submission_id, death_index, d.*
            from (
                select submission_id, generate_subscripts(deaths, 1) as death_index,
                       json_transform(unnest(deaths), '{_shape(DEATH_KEYS)}') as d
                from (select submission_id, try_cast(s.deaths as json[]) as deaths from _kept
                      where json_type(s.deaths) = 'ARRAY')
            )
        """)
    con.execute("drop view _kept; drop table _copies")


# ----------------------------------------------------------------------------- CSV inputs

FRAME_COLUMNS = ("household_id", "ea_code", "urban_rural_code", "address", "household_type", "expected_persons",
                 "listed_on")
REGISTERS = {
    # table: (folder, columns, key, latest-wins order)
    "hukou_register": ("admin/hukou", ("person_no", "id_number", "name", "sex", "birth_date", "hukou_region_code",
                                       "hukou_township_code", "hukou_address", "status", "extracted_on"), "person_no"),
    "birth_register": ("admin/births", ("certificate_no", "child_name", "child_sex", "birth_date", "mother_id_number",
                                        "mother_name", "hospital_region_code", "extracted_on"), "certificate_no"),
    "death_register": ("admin/deaths", ("record_no", "id_number", "name", "sex", "birth_date", "death_date",
                                        "region_code", "extracted_on"), "record_no"),
}


# One RFC 4180 field, and a whole row of them. A record is one line: a quoted field that spans
# lines (or any unbalanced quote) makes its line a malformed row, and only that line.
CSV_FIELD = '"(?:[^"]|"")*"|[^,"]*'
CSV_ROW = f"(?:{CSV_FIELD})(?:,(?:{CSV_FIELD}))*"


def _csv_split_sql(line: str) -> str:
    """The fields of a row: split on commas when it holds no quote (almost every row: fast), by
    the field pattern otherwise (null for a malformed quoted row)."""
    return (f"case when not contains({line}, '\"') then list_transform(string_split({line}, ','), lambda f: nullif(f, '')) "
            f"when regexp_full_match({line}, '{CSV_ROW}') then {_csv_fields_sql(line)} end")


def _csv_fields_sql(line: str) -> str:
    """The fields of a well-formed row: an unquoted empty field is null (as DuckDB's reader had it)."""
    return (f"list_transform(regexp_extract_all(',' || {line}, ',({CSV_FIELD})', 1), lambda f: "
            "case when f = '' then null when starts_with(f, '\"') then replace(f[2:-2], '\"\"', '\"') else f end)")


def ingest_csv_files(con, root: Path, folder: str, table: str, columns: tuple[str, ...], key: str) -> int:
    """New CSV files of one kind into raw.<table>_received (all rows, with file and TRUE line
    number); every other row into raw.rejected_lines with a reason. Lines are read as for the
    batch files (read_blob, split in SQL): the header is the first non-blank line after an
    optional `# encoding:` line; fields are matched by header name. One transaction."""
    ensure_schema(con)
    cols = ", ".join(f"{c} varchar" for c in columns)
    con.execute(f"create table if not exists raw.{table}_received ({cols}, source_file varchar, line_no bigint)")
    with atomic(con), tempfile.TemporaryDirectory(prefix="census-csv-") as tmp:
        todo = new_files(con, root, list_files(root, folder, (".csv",)))
        if not todo:
            return 0
        readable: dict[str, str] = {}
        file_rows: list[tuple] = []
        declared: list[tuple] = []  # (source_file, first line is a declaration, not UTF-8 reason)
        for i, path in enumerate(todo):
            name = rel(root, path)
            safe = Path(tmp) / f"f{i:06d}.csv"
            try:
                enc = declared_encoding(path)
                codec = ENCODINGS.get(enc) if enc is not None else "utf-8"
                if codec is None:
                    file_rows.append((name, 1, "the file declares an encoding other than GB18030 or UTF-8"))
                    continue
                if codec == "utf-8" and not needs_link(path):
                    safe = path
                elif codec == "utf-8":
                    os.symlink(os.path.abspath(path), safe)
                else:
                    utf8_copy(path, codec, safe)
            except OSError as e:
                file_rows.append((name, None, f"file cannot be read ({type(e).__name__})"))
                continue
            readable[str(safe)] = name
            declared.append((name, enc is not None,
                             "line is not valid UTF-8" if codec == "utf-8" else f"line does not decode as {codec.upper()}"))
        if readable:
            stage_lines(con, readable)
        else:
            _empty_staging(con)
        con.execute("create or replace temp table _decl(source_file varchar, declared boolean, bad_text varchar)")
        if declared:
            insert_rows(con, "_decl", declared)
        con.execute("update _bad set reason = d.bad_text from _decl d where d.source_file = _bad.source_file")
        # the encoding declaration is not data; the header is the first line after it
        con.execute("delete from _lines using _decl d where d.source_file = _lines.source_file and d.declared "
                    "and _lines.line_no = 1")
        con.execute("delete from _bad using _decl d where d.source_file = _bad.source_file and d.declared "
                    "and _bad.line_no = 1")
        # The rows are split into fields where they are used, not copied between work tables: at
        # Hangzhou's size a register extract is 7 M lines, and every copy of them cost seconds.
        con.execute(f"""
            create or replace temp table _hdr as
            select source_file, header_line, len(fields) as n_fields, {", ".join(f"list_position(h, '{c}') as p_{c}" for c in columns)}
            from (select source_file, line_no as header_line, fields,
                         list_transform(fields, lambda f: trim(coalesce(f, ''))) as h
                  from (select source_file, line_no, {_csv_split_sql("line")} as fields
                        from _lines join (select source_file, min(line_no) as line_no
                                          from (from _lines select source_file, line_no
                                                union all from _bad select source_file, line_no)
                                          group by all) using (source_file, line_no)))
        """)
        # a file whose header is not UTF-8: its first bad line (before any readable line) is the header
        missing = " || ".join(f"case when p_{c} is null or p_{c} = 0 then ' {c}' else '' end" for c in columns)
        con.execute("""
            create or replace temp table _body as  -- data rows and their files' headers, not yet split
            select l.source_file, l.line_no, l.line, h.* exclude (source_file)
            from _lines l left join _hdr h using (source_file)
            where h.header_line is null or l.line_no <> h.header_line
        """)
        con.execute(f"""
            create or replace temp table _checked as  -- the rows that are quarantined (few), with why
            select * from (
                select source_file, line_no, line as raw_text,
                       case when n_fields is null then 'the header row is not a well-formed CSV row'
                            when ({missing}) <> '' then 'the header lacks required column(s):' || ({missing})
                            when contains(line, '"') and not regexp_full_match(line, '{CSV_ROW}')
                                then 'malformed CSV row (an unbalanced quote, or a quote inside an '
                                     || 'unquoted field; a quoted field may not span lines)'
                            when len({_csv_split_sql("line")}) <> n_fields
                                then 'row has ' || len({_csv_split_sql("line")}) || ' fields, the header ' || n_fields
                       end as reason
                from _body)
            where reason is not null
        """)
        # header problems are said once per row they affect (every row of the file)
        con.execute("insert into raw.rejected_lines select source_file, line_no, reason, raw_text from _checked")
        select = ", ".join(f"fields[p_{c}] as {c}" for c in columns)
        con.execute(f"""
            create or replace temp table _ok as
            select source_file, line_no, {select}
            from (select *, {_csv_split_sql("line")} as fields from _body anti join _checked using (source_file, line_no))
        """)
        con.execute(f"""
            insert into raw.{table}_received
            select {", ".join(columns)}, source_file, line_no from _ok where nullif(trim({key}), '') is not null
        """)
        con.execute(f"""
            insert into raw.rejected_lines
            select source_file, line_no, 'missing key "{key}"', null from _ok
            where nullif(trim({key}), '') is null
        """)
        # lines before the header that are not UTF-8 are rows too; so is a bad header line
        con.execute("insert into raw.rejected_lines select source_file, line_no, reason, raw_text from _bad")
        if file_rows:
            insert_rows(con, "raw.rejected_lines", [(*r, None) for r in file_rows])
        con.execute("create or replace temp table _files(source_file varchar, size_bytes bigint, whole_file_rows int)")
        whole = {r[0]: 0 for r in file_rows}
        for r in file_rows:
            whole[r[0]] += 1
        insert_rows(con, "_files", [(rel(root, p), file_size(p), whole.get(rel(root, p), 0)) for p in todo])
        con.execute(f"""
            insert into raw.ingest_files
            select f.source_file, '{table}', null, f.size_bytes,
                   coalesce(c.n, 0) + coalesce(b.n, 0) + f.whole_file_rows, now()
            from _files f
            left join (select source_file, count(*) as n from _body group by all) c using (source_file)
            left join (select source_file, count(*) as n from _bad group by all) b using (source_file)
        """)
        con.execute("drop table _body; drop table _hdr; drop table _checked; drop table _ok; drop table _decl; "
                    "drop table _lines; drop table _bad; drop table _files")
    return len(todo)


def rebuild_register(con, table: str, key: str) -> None:
    """The current register: for each key the row of the latest extracted_on (then the later
    file and line); a key absent from a newer extract keeps its older row."""
    con.execute(f"""
        create or replace table raw.{table} as
        select * exclude (rn) from (
            select *, row_number() over (partition by {key}
                      order by try_cast(extracted_on as date) desc nulls last, source_file desc, line_no desc) as rn
            from raw.{table}_received)
        where rn = 1
    """)


def rebuild_frame(con) -> None:
    """The listing frame: one row per household_id (a later file, then a later line, wins)."""
    con.execute("""
        create or replace table raw.listing_frame as
        select * exclude (rn) from (
            select *, row_number() over (partition by household_id order by source_file desc, line_no desc) as rn
            from raw.listing_frame_received)
        where rn = 1
    """)
