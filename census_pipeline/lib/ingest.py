"""Landing zone -> restricted `raw` schema, exactly once, with every line accounted for.

Set-based: DuckDB's CSV reader reads each batch file as lines (one VARCHAR column), its
rejects table catches lines that are not UTF-8, and SQL validates the JSON contract. Python
only lists files and does the two things DuckDB cannot do per file: salvage the readable
start of a damaged gzip file, and transcode a GB18030 register extract.

Bookkeeping tables (restricted):
  raw.ingest_files      one row per landing file ever read (what makes a re-run cheap)
  raw.submission_lines  every structurally valid submission line, with its file and line
  raw.rejected_lines    every quarantined line: file, line, reason and the raw text
Derived tables are rebuilt when new files arrive: raw.household_submissions (one row per
submission_id), raw.person_lines, raw.death_lines, the frame and the registers.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import tempfile
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path

import duckdb

from census_pipeline.lib.codes import counties

IN_FLIGHT_SUFFIXES = (".part", ".tmp")
MAX_LINE = 64 * 1024 * 1024
CHUNK_FILES = 200


# ----------------------------------------------------------------------------- files


def is_in_flight(path: Path) -> bool:
    """A file still being written: leave it alone (landing_zone.md)."""
    return path.name.startswith(".") or path.name.endswith(IN_FLIGHT_SUFFIXES)


def list_files(root: Path, sub: str, suffixes: tuple[str, ...]) -> list[Path]:
    """Complete files under root/sub with one of the suffixes, in a stable order."""
    base = root / sub
    if not base.is_dir():
        return []
    out = []
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            p = Path(dirpath) / name
            if not is_in_flight(p) and name.endswith(suffixes):
                out.append(p)
    return sorted(out)


def rel(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


# ----------------------------------------------------------------------------- schema

DDL = """
create schema if not exists raw;
create schema if not exists quality;
create table if not exists raw.ingest_files (
    source_file varchar primary key, kind varchar, upload_date date, size_bytes bigint,
    lines_received bigint, ingested_at timestamptz);
create table if not exists raw.rejected_lines (
    source_file varchar, line_no bigint, reason varchar, raw_text varchar);
create table if not exists raw.submission_lines (
    source_file varchar, line_no bigint, upload_date date, channel_folder varchar,
    submission_id varchar, content_hash varchar, payload json);
"""


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(DDL)


def new_files(con: duckdb.DuckDBPyConnection, root: Path, files: Iterable[Path]) -> list[Path]:
    known = {r[0] for r in con.execute("select source_file from raw.ingest_files").fetchall()}
    return [f for f in files if rel(root, f) not in known]


# ----------------------------------------------------------------------------- reading lines


@dataclasses.dataclass
class Salvage:
    """A file DuckDB could not read whole: what was readable, and why the rest was not."""

    readable: Path | None
    first_bad_line: int | None
    reason: str


def salvage_gzip(path: Path, workdir: Path) -> Salvage:
    """Decompress what precedes the damage, cut at the last complete line."""
    d = zlib.decompressobj(wbits=31)
    out = bytearray()
    reason = "gzip file is truncated: the rest of the file is unreadable"
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                out += d.decompress(chunk)
            if not d.eof:
                raise EOFError
    except zlib.error as e:
        reason = f"gzip file is corrupt ({e}): the rest of the file is unreadable"
    except EOFError:
        pass
    cut = out.rfind(b"\n") + 1
    good = bytes(out[:cut])
    if not good:
        return Salvage(None, None, reason if out or d.eof else "not a readable gzip file")
    readable = workdir / (path.name.removesuffix(".gz"))
    readable.write_bytes(good)
    n_lines = good.count(b"\n")
    return Salvage(readable, n_lines + 1, reason)


def _read_lines_sql(files: list[str]) -> str:
    listing = "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"
    return f"""
        select filename, line from read_csv({listing}, columns={{'line': 'VARCHAR'}}, delim=chr(1),
            quote='', escape='', header=false, auto_detect=false, filename=true, compression='auto',
            store_rejects=true, rejects_table='_rej', rejects_scan='_rej_scan', ignore_errors=true,
            max_line_size={MAX_LINE})"""


def _sql_str(v: str) -> str:
    return "'" + v.replace("'", "''") + "'"


def stage_lines(con: duckdb.DuckDBPyConnection, files: dict[str, str]) -> None:
    """Read `files` (path to read -> source_file) into temp tables _lines(source_file, line_no,
    line) and _bad(source_file, line_no, reason, raw_text). Blank lines are dropped.
    Raises when DuckDB cannot read a file whole (a damaged gzip file)."""
    con.execute("drop table if exists _rej; drop table if exists _rej_scan")
    con.execute(f"create or replace temp table _raw as {_read_lines_sql(list(files))}")
    values = ", ".join(f"({_sql_str(k)}, {_sql_str(v)})" for k, v in files.items())
    con.execute(f"create or replace temp table _names as select * from (values {values}) t(path, source_file)")
    # DuckDB keeps file order (preserve_insertion_order): the k-th surviving row of a file is its
    # k-th readable line; rejected lines are skipped in that count, so add them back in.
    con.execute("""
        create or replace temp table _bad as
        select n.source_file, r.line as line_no,
               case when r.error_type = 'INVALID ENCODING' then 'line is not valid UTF-8'
                    when r.error_type = 'TOO MANY COLUMNS' then 'line contains a control character (U+0001)'
                    when r.error_type = 'LINE SIZE OVER MAXIMUM' then 'line is longer than the 64 MiB limit'
                    else 'unreadable line (' || r.error_type || ')' end as reason,
               trim(r.csv_line, chr(10) || chr(13)) as raw_text,
               r.line - row_number() over (partition by n.source_file order by r.line) as gap
        from _rej r join _rej_scan s using (scan_id, file_id) join _names n on n.path = s.file_path
    """)
    con.execute("""
        create or replace temp table _lines as
        with numbered as (
            select n.source_file, r.line,
                   row_number() over (partition by n.source_file order by r.rowid) as k
            from _raw r join _names n on n.path = r.filename
        )
        select source_file,
               k + (select count(*) from _bad b where b.source_file = numbered.source_file and b.gap < numbered.k)
                   as line_no,
               line
        from numbered
        where line is not null and trim(line) <> ''
    """)
    con.execute("alter table _bad drop column gap")


def read_files(con: duckdb.DuckDBPyConnection, root: Path, paths: list[Path], workdir: Path) -> None:
    """Stage the lines of `paths` into _lines/_bad (outside any transaction: a damaged file
    makes DuckDB raise). DuckDB names the file it could not read: that file is set aside and
    salvaged alone (its readable start staged, the rest one quarantine row), and the others
    are read together again. Without a name, the batch is split in two."""
    parts: list[int] = []

    def keep() -> None:
        i = len(parts)
        con.execute(f"create or replace temp table _lines_{i} as from _lines; "
                    f"create or replace temp table _bad_{i} as from _bad")
        parts.append(i)

    todo = [list(paths)]
    while todo:
        group = todo.pop()
        try:
            stage_lines(con, {str(p): rel(root, p) for p in group})
            keep()
            continue
        except (duckdb.IOException, duckdb.InvalidInputException) as e:
            named = [p for p in group if str(p) in str(e)]
            if len(group) == 1 or named:
                bad = named[0] if named else group[0]
                _salvage_one(con, root, bad, workdir)
                keep()
                rest = [p for p in group if p != bad]
            else:
                half = len(group) // 2
                todo += [group[:half], group[half:]]
                continue
        if rest:
            todo.append(rest)
    con.execute("create or replace temp table _lines as " + " union all ".join(f"from _lines_{i}" for i in parts))
    con.execute("create or replace temp table _bad as " + " union all ".join(f"from _bad_{i}" for i in parts))


def _salvage_one(con, root: Path, path: Path, workdir: Path) -> None:
    salvage = salvage_gzip(path, workdir) if path.name.endswith(".gz") else Salvage(None, None, "unreadable file")
    if salvage.readable is not None:
        stage_lines(con, {str(salvage.readable): rel(root, path)})
    else:
        con.execute("create or replace temp table _lines(source_file varchar, line_no bigint, line varchar)")
        con.execute("create or replace temp table _bad(source_file varchar, line_no bigint, reason varchar, raw_text varchar)")
    con.execute("insert into _bad values (?, ?, ?, null)", [rel(root, path), salvage.first_bad_line, salvage.reason])


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


CHECKED_VALUES = ("channel", "form", "status", "submitted_at", "ea_code")


def _checked_sql(channels: tuple[str, ...]) -> str:
    """Select over temp table _lines giving each line's first contract violation (or null).

    Each line is parsed a handful of times, not once per key: json_type and
    json_extract_string take a list of paths."""
    paths = ", ".join(f"'$.{k}'" for k, _, _ in REQUIRED)
    value_paths = ", ".join(f"'$.{k}'" for k in CHECKED_VALUES)
    whens = [
        "when line is null then 'not valid JSON'",
        "when top_type <> 'OBJECT' then 'not a JSON object (got ' || lower(top_type) || ')'",
    ]
    for i, (key, types, nullable) in enumerate(REQUIRED, start=1):
        ok = ", ".join(f"'{x}'" for x in types + (("NULL",) if nullable else ()))
        want = TYPE_WORDS[types[0]] + (" or null" if nullable else "")
        whens.append(f"when types[{i}] is null then 'missing required key \"{key}\"'")
        whens.append(f"when types[{i}] not in ({ok}) then '\"{key}\" must be {want} (got ' || lower(types[{i}]) || ')'")
    v = {k: f"vals[{i}]" for i, k in enumerate(CHECKED_VALUES, start=1)}
    for key, values in dict(ENUMS, channel=channels).items():
        vals = ", ".join(f"'{x}'" for x in values)
        whens.append(f"when {v[key]} not in ({vals}) then '\"{key}\" must be one of {'/'.join(values)} "
                     f"(got \"' || {v[key]} || '\")'")
    county_list = ", ".join(f"'{c}'" for c in counties())
    whens += [
        f"when not regexp_full_match({v['submitted_at']}, "
        "'\\d{4}-\\d{2}-\\d{2}[T ]\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?(Z|[+-]\\d{2}:?\\d{2})') "
        f"or try_cast({v['submitted_at']} as timestamptz) is null "
        "then '\"submitted_at\" is not an ISO-8601 timestamp with offset'",
        "when list_filter(person_types, lambda t: t <> 'OBJECT') <> [] then '\"persons\" must be an array of objects'",
        f"when not regexp_full_match({v['ea_code']}, '\\d{{15}}') then '\"ea_code\" must be 15 digits'",
        f"when substr({v['ea_code']}, 1, 6) not in ({county_list}) then 'ea_code county ' || "
        f"substr({v['ea_code']}, 1, 6) || ' is outside the census area (codes/regions.csv)'",
    ]
    return f"""
        with parsed as (  -- invalid JSON becomes null first, so no JSON function sees it
            select source_file, line_no, line as raw_text, case when json_valid(line) then line end as line
            from _lines
        ),
        typed as (
            select *, json_type(line) as top_type, json_type(line, [{paths}]) as types,
                   json_extract_string(line, [{value_paths}]) as vals,
                   json_type(line, '$.persons[*]') as person_types
            from parsed
        )
        select source_file, line_no, raw_text, line, case {" ".join(whens)} end as reason from typed
    """


def ingest_submission_files(con, root: Path, sub: str, channels: tuple[str, ...],
                            progress: Callable[[int], None] | None = None) -> int:
    """Read new batch files under root/sub into raw.submission_lines; returns files read."""
    ensure_schema(con)
    todo = new_files(con, root, list_files(root, sub, (".jsonl", ".jsonl.gz")))
    with tempfile.TemporaryDirectory(prefix="census-ingest-") as tmp:
        for i in range(0, len(todo), CHUNK_FILES):
            chunk = todo[i : i + CHUNK_FILES]
            read_files(con, root, chunk, Path(tmp))
            con.execute("begin")
            record_files(con, root, chunk, "pes" if sub == "pes" else "submission")
            con.execute(f"create or replace temp table _checked as {_checked_sql(channels)}")
            con.execute("""
                insert into raw.rejected_lines
                select source_file, line_no, reason, raw_text from _checked where reason is not null
            """)
            con.execute("""
                insert into raw.submission_lines
                select source_file, line_no,
                       try_cast(split_part(source_file, '/', -2) as date),
                       split_part(source_file, '/', 2),
                       line->>'$.submission_id', md5(json(line)), json(line)
                from _checked where reason is null
            """)
            con.execute("commit")
            if progress:
                progress(len(chunk))
    return len(todo)


def record_files(con, root: Path, paths: list[Path], kind: str) -> None:
    """Ledger rows for the staged files, and their unreadable lines into raw.rejected_lines:
    lines received = readable non-blank lines + lines the reader or the gzip salvage rejected."""
    rows = [(rel(root, p), kind, _upload_date(rel(root, p)), p.stat().st_size) for p in paths]
    con.executemany("insert into raw.ingest_files values (?, ?, ?, ?, 0, now())", rows)
    con.execute("""
        update raw.ingest_files f
        set lines_received = (select count(*) from _lines l where l.source_file = f.source_file)
                           + (select count(*) from _bad b where b.source_file = f.source_file)
        where list_contains(?, f.source_file)
    """, [[r[0] for r in rows]])
    con.execute("insert into raw.rejected_lines select source_file, line_no, reason, raw_text from _bad")


def _upload_date(name: str) -> dt.date | None:
    parts = name.split("/")
    try:
        return dt.date.fromisoformat(parts[-2]) if len(parts) >= 2 else None
    except ValueError:
        return None


def _shape(keys: tuple[str, ...], typed: dict[str, str] | None = None) -> str:
    """A json_transform structure: every key kept as raw JSON unless given a type."""
    typed = typed or {}
    return "{" + ", ".join(f'"{k}": "{typed.get(k, "JSON")}"' for k in keys) + "}"


SUBMISSION_SHAPE = _shape(
    tuple(k for k, _, _ in REQUIRED) + OPTIONAL_HOUSEHOLD_KEYS + ("deaths",),
    {"channel": "VARCHAR", "form": "VARCHAR", "status": "VARCHAR", "submitted_at": "VARCHAR",
     "enumerator_id": "VARCHAR", "household_id": "VARCHAR", "ea_code": "VARCHAR", "household_type": "VARCHAR",
     "address": "VARCHAR", "h_resident_count": "BIGINT", "h_hukou_absent_count": "BIGINT", "persons": "JSON[]",
     "deaths": "JSON"},
)


SUBMISSION_SCOPES = {"uploads": "", "pes": "pes_"}  # landing folder: prefix of its raw tables


def rebuild_submissions(con, scope: str = "uploads") -> None:
    """One row per submission_id (the copy in the earliest upload folder, then file name, then
    line); copies with other contents are conflicting re-deliveries, quarantined. Each payload
    is parsed once (json_transform), each person object once. `scope`: the census uploads
    (raw.household_submissions, person_lines, death_lines) or the post-enumeration survey
    (raw.pes_submissions, pes_person_lines, pes_death_lines), kept apart (rules.md)."""
    t = SUBMISSION_SCOPES[scope]
    con.execute(f"""
        create or replace temp table _copies as
        select *,
               row_number() over (partition by submission_id
                   order by upload_date nulls last, split_part(source_file, '/', -1), source_file, line_no) as copy_rank,
               count(*) over (partition by submission_id) as n_copies
        from raw.submission_lines
        where source_file like '{scope}/%'
    """)
    con.execute(f"""
        create or replace table raw.{t}submission_conflicts as
        select c.source_file, c.line_no, c.submission_id,
               'conflicting re-delivery: submission ' || c.submission_id || ' differs from the copy kept from '
               || w.source_file || ' line ' || w.line_no as reason
        from _copies c
        join _copies w on w.submission_id = c.submission_id and w.copy_rank = 1
        where c.copy_rank > 1 and c.content_hash <> w.content_hash
    """)
    con.execute(f"""
        create or replace temp table _kept as
        select submission_id, upload_date, source_file, line_no, n_copies - 1 as redelivered_copies,
               json_transform(payload, '{SUBMISSION_SHAPE}') as s
        from _copies where copy_rank = 1
    """)
    optional = ", ".join(f"s.{k}" for k in OPTIONAL_HOUSEHOLD_KEYS)
    con.execute(f"""
        create or replace table raw.{"pes_submissions" if t else "household_submissions"} as
        select submission_id, s.channel, s.form, s.status, cast(s.submitted_at as timestamptz) as submitted_at,
               s.enumerator_id, s.household_id, s.ea_code, substr(s.ea_code, 1, 6) as county_code,
               s.household_type, s.address, s.h_resident_count, s.h_hukou_absent_count, {optional},
               len(s.persons) as person_line_count,
               case when json_type(s.deaths) = 'ARRAY' then json_array_length(s.deaths) else 0 end as death_line_count,
               upload_date, source_file, line_no, redelivered_copies
        from _kept
    """)
    con.execute(f"""
        create or replace table raw.{t}person_lines as
        select submission_id, person_index, p.*
        from (
            select submission_id, generate_subscripts(s.persons, 1) as person_index,
                   json_transform(unnest(s.persons), '{_shape(PERSON_KEYS)}') as p
            from _kept
        )
    """)
    con.execute(f"""
        create or replace table raw.{t}death_lines as
        select submission_id, death_index, d.*
        from (
            select submission_id, generate_subscripts(deaths, 1) as death_index,
                   json_transform(unnest(deaths), '{_shape(DEATH_KEYS)}') as d
            from (select submission_id, cast(s.deaths as json[]) as deaths from _kept
                  where json_type(s.deaths) = 'ARRAY')
        )
    """)
    con.execute("drop table _copies; drop table _kept")


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


def declared_encoding(path: Path) -> str | None:
    """'gb18030' when the first line is `# encoding: gb18030` (any case), else None (UTF-8)."""
    with open(path, "rb") as f:
        first = f.readline(200).strip().lstrip(b"\xef\xbb\xbf").lower()
    if first.startswith(b"#") and b"encoding" in first:
        return first.split(b":", 1)[-1].strip().decode("ascii", "replace")
    return None


def _utf8_copy(path: Path, encoding: str, workdir: Path) -> Path:
    """Transcode a declared-encoding CSV to UTF-8 (DuckDB reads UTF-8 natively; its GB18030
    support is an extension this machine cannot download). Streams in 1 MiB pieces."""
    out = workdir / (path.name + ".utf8.csv")
    with open(path, encoding=encoding, errors="strict", newline="") as src, open(out, "w", encoding="utf-8", newline="") as dst:
        src.readline()  # the encoding line
        while piece := src.read(1 << 20):
            dst.write(piece)
    return out


def ingest_csv_files(con, root: Path, folder: str, table: str, columns: tuple[str, ...], key: str) -> int:
    """New CSV files of one kind into raw.<table>_received (all rows, with file and line)."""
    ensure_schema(con)
    cols = ", ".join(f"{c} varchar" for c in columns)
    con.execute(f"create table if not exists raw.{table}_received ({cols}, source_file varchar, line_no bigint)")
    todo = new_files(con, root, list_files(root, folder, (".csv",)))
    with tempfile.TemporaryDirectory(prefix="census-csv-") as tmp:
        for path in todo:
            name = rel(root, path)
            enc = declared_encoding(path)
            header_line = 2 if enc else 1
            bad: list[tuple] = []
            try:
                readable = _utf8_copy(path, enc, Path(tmp)) if enc else path
            except (UnicodeDecodeError, LookupError) as e:
                bad.append((name, None, f"file does not decode as its declared encoding {enc}: {e}"))
                readable = None
            header_ok, got = False, []
            if readable is not None:
                with open(readable, encoding="utf-8-sig", errors="replace") as f:
                    got = [h.strip() for h in f.readline().rstrip("\r\n").split(",")]
                missing = [c for c in columns if c not in got]
                if missing:
                    bad.append((name, None, f"header lacks required column(s) {', '.join(missing)}"))
                header_ok = not missing
            con.execute("begin")
            received = 0
            if header_ok:
                con.execute("drop table if exists _rej; drop table if exists _rej_scan")
                con.execute(f"""
                    create or replace temp table _csv as
                    select * from read_csv({_sql_str(str(readable))}, header=true, all_varchar=true, delim=',',
                         quote='"', escape='"', auto_detect=false, columns={{{", ".join(f"'{c}': 'VARCHAR'" for c in got)}}},
                         store_rejects=true, rejects_table='_rej', rejects_scan='_rej_scan', ignore_errors=true)
                """)
                # file order is kept on insert: rowid is the row's position among readable rows
                con.execute("create or replace temp table _csv as select *, row_number() over (order by rowid) as k from _csv")
                rejected = con.execute("select line, error_type, csv_line from _rej").fetchall()
                for line, err, text in rejected:
                    con.execute("insert into raw.rejected_lines values (?, ?, ?, ?)",
                                [name, line + header_line - 1, f"malformed CSV row ({err.lower()})", text])
                select = ", ".join(columns)
                con.execute(f"""
                    insert into raw.{table}_received
                    select {select}, ?, k + ? from _csv where nullif(trim({key}), '') is not null
                """, [name, header_line])
                con.execute(f"""
                    insert into raw.rejected_lines
                    select ?, k + ?, 'missing key "{key}"', null from _csv where nullif(trim({key}), '') is null
                """, [name, header_line])
                received = con.execute("select count(*) from _csv").fetchone()[0] + len(rejected)
            for b in bad:
                con.execute("insert into raw.rejected_lines values (?, ?, ?, null)", list(b))
            received += len(bad)
            con.execute("insert into raw.ingest_files values (?, ?, null, ?, ?, now())",
                        [name, table, path.stat().st_size, received])
            con.execute("commit")
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
