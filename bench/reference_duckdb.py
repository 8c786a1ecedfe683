"""Reference 2 for issue 16: the counting path in bare DuckDB SQL (no dbt, no Dagster).

The "floor": the least work that produces the headline count, table b1 (resident population,
family and collective households, by county and for the city), measured against `census run`
on the same machine and landing zone. It imports nothing from census_pipeline (the GB 11643
check is the same algorithm written again in SQL) and writes nothing but temporary files.

    .venv/bin/python bench/reference_duckdb.py --landing /path/to/landing

Python does only what DuckDB cannot do set-based: list the batch files (skipping names that start
with '.' or end in .part/.tmp) and gunzip the .jsonl.gz ones into a temporary folder, keeping the
complete lines before any damage (DuckDB's own gzip reader fails the whole query on a truncated
file). Everything else is SQL, one statement per step:

1. read_blob every file, split it into lines (exact line numbers; a file with a line that is not
   UTF-8 is split as bytes, only that line dropped), BOM on line 1 and CR of CRLF removed, blank
   lines dropped;
2. contract validation, just enough to skip what the pipeline quarantines: valid JSON object,
   required keys present with their JSON types, channel/form/status values, submitted_at an
   ISO-8601 timestamp with offset, persons an array of objects, ea_code 15 digits of a county of
   codes/regions.csv;
3. re-delivered copies: one row per submission_id (earliest upload folder, file name, path, line);
4. supersession per household_id (final; long over short among finals; later submitted_at;
   larger submission_id);
5. person lines: codes normalised ("01" = "1", out-of-list = missing), ID number trimmed
   (final x read as X) and checked (id_type 1, 18 characters, real birth date >= 1890-01-01,
   ISO 7064 MOD 11-2), the second line of a submission repeating an ID under another name loses
   it; birth from a valid ID, else birth_ym;
6. the resident-population rule (常住人口), id_type 2/3 and persons born on/after 2020-11-01 out;
7. duplicates on the valid ID (one survivor when several count; the residence-1 record when none
   of two or more counts);
8. b1 by county and for the city.

Not done (none of it changes b1): quarantine rows, ledger, conflicting re-delivery reasons,
edits/imputation, flags, follow-up, b2-b8. Household type: the submission's '1'/'2', else the
listing frame's, else '1' (that needs the frame, read with read_csv, transcoded first when it
declares GB18030; the urban/rural class is not needed for b1). File names holding DuckDB glob
characters ([, *, ?) are not protected.

DuckDB settings: CENSUS_DUCKDB_MEMORY_LIMIT (default 4GB), CENSUS_DUCKDB_THREADS (default: the
machine's cores), spill to a temporary folder.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
import tempfile
import time
import zlib
from decimal import ROUND_HALF_UP, Decimal

import duckdb

CITY = "330100"
REGIONS = {
    "330100": "杭州市", "330102": "上城区", "330105": "拱墅区", "330106": "西湖区", "330108": "滨江区",
    "330109": "萧山区", "330110": "余杭区", "330111": "富阳区", "330112": "临安区", "330113": "临平区",
    "330114": "钱塘区", "330122": "桐庐县", "330127": "淳安县", "330182": "建德市",
}
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def in_flight(name: str) -> bool:
    return name.startswith(".") or name.endswith((".part", ".tmp"))


def gunzip_salvage(src: str, dst: str) -> None:
    """Every gzip member of src into dst; on damage, only the complete lines before it."""
    with open(src, "rb") as f:
        data = f.read()
    out, d, fed = [], zlib.decompressobj(wbits=31), False
    try:
        while data:
            fed = True
            out.append(d.decompress(data))
            if d.eof:
                data, d, fed = d.unused_data, zlib.decompressobj(wbits=31), False
            else:
                data = b""
        if fed and not d.eof:
            out.append(d.flush())
            raise zlib.error("truncated")
        text = b"".join(out)
    except zlib.error:
        text = b"".join(out)
        text = text[: text.rfind(b"\n") + 1]
    with open(dst, "wb") as f:
        f.write(text)


def stage_files(landing: str, tmp: str) -> list[tuple[str, str, dt.date | None, str]]:
    """(path DuckDB reads, path in the landing zone, upload date, file name) per batch file."""
    rows = []
    for dirpath, dirnames, filenames in os.walk(os.path.join(landing, "uploads"), followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if in_flight(name) or not name.endswith((".jsonl", ".jsonl.gz")):
                continue
            path = os.path.join(dirpath, name)
            try:
                day = dt.date.fromisoformat(os.path.basename(dirpath))
            except ValueError:
                day = None
            with open(path, "rb") as f:
                gz = f.read(2) == b"\x1f\x8b"
            read = path
            if gz:
                read = os.path.join(tmp, f"f{len(rows):06d}.jsonl")
                gunzip_salvage(path, read)
            rows.append((read, os.path.relpath(path, landing), day, name))
    return rows


def ratio(num: int, den: int, scale: int, decimals: int):
    """num * scale / den rounded half away from zero (rules.md); None for a zero denominator."""
    if not den:
        return None
    return (Decimal(num) * scale / Decimal(den)).quantize(Decimal(1).scaleb(-decimals), ROUND_HALF_UP)


def utf8_frame(landing: str, tmp: str) -> str | None:
    """frame/listing.csv as DuckDB can read it: as it is, or, when its first line declares an
    encoding (`# encoding: gb18030`), transcoded to UTF-8 without that line."""
    path = os.path.join(landing, "frame", "listing.csv")
    if not os.path.exists(path):
        return None
    with open(path, "rb") as f:
        first = f.readline(200).strip().lstrip(b"\xef\xbb\xbf").lower()
        if not (first.startswith(b"#") and b"encoding" in first):
            return path
        rest = f.read()
    encoding = "gb18030" if b"gb" in first else "utf-8"
    out = os.path.join(tmp, "listing.csv")
    with open(out, "w", encoding="utf-8") as f:
        f.write(rest.decode(encoding, errors="replace"))
    return out


def sql_list(values) -> str:
    return "(" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + ")"


def id_check_sql(col: str) -> str:
    terms = " + ".join(f"{w} * try_cast(substr({col}, {i}, 1) as integer)" for i, w in enumerate(WEIGHTS, 1))
    return f"substr('10X98765432', 1 + (({terms}) % 11), 1)"


REQUIRED = (  # key, allowed json_type values
    ("submission_id", "'VARCHAR'"), ("channel", "'VARCHAR'"), ("form", "'VARCHAR'"), ("status", "'VARCHAR'"),
    ("submitted_at", "'VARCHAR'"), ("enumerator_id", "'VARCHAR', 'NULL'"), ("household_id", "'VARCHAR'"),
    ("ea_code", "'VARCHAR'"), ("household_type", "'VARCHAR'"), ("address", "'VARCHAR'"),
    ("h_resident_count", "'BIGINT', 'UBIGINT'"), ("h_hukou_absent_count", "'BIGINT', 'UBIGINT'"),
    ("persons", "'ARRAY'"),
)


def run(landing: str, con: duckdb.DuckDBPyConnection, tmp: str) -> list[tuple]:
    files = stage_files(landing, tmp)
    if not files:
        return []
    con.execute("create temp table files(path varchar, source_file varchar, upload_date date, base varchar)")
    con.executemany("insert into files values (?, ?, ?, ?)", files)

    # 1. lines
    con.execute(f"""
        create temp table blobs as
        select filename, text, case when text is null then content end as content
        from (select filename, content, try(decode(content)) as text
              from read_blob({"[" + ", ".join("'" + p.replace("'", "''") + "'" for p, *_ in files) + "]"}))
    """)
    con.execute(r"""
        create temp table lines as
        with split as (
            select filename, generate_subscripts(parts, 1) as line_no, unnest(parts) as line
            from (select filename, string_split(text, chr(10)) as parts from blobs where text is not null)
            union all
            select filename, line_no, try(decode(esc::blob)) as line
            from (select filename, generate_subscripts(parts, 1) as line_no, unnest(parts) as esc
                  from (select filename, string_split(content::varchar, '\x0A') as parts
                        from blobs where text is null))
        )
        select f.upload_date, f.base, f.source_file, s.line_no,
               rtrim(case when s.line_no = 1 then ltrim(s.line, chr(65279)) else s.line end, chr(13)) as line
        from split s join files f on f.path = s.filename
        where s.line is not null and trim(s.line, ' ' || chr(9) || chr(13)) <> ''
    """)
    con.execute("drop table blobs")

    # 2. contract, 3. one copy per submission_id
    paths = ", ".join(f"'$.{k}'" for k, _ in REQUIRED)
    type_ok = " and ".join(f"types[{i}] in ({ok})" for i, (_, ok) in enumerate(REQUIRED, 1))
    counties = sql_list(c for c in REGIONS if c != CITY)
    con.execute(f"""
        create temp table submissions as
        with parsed as (
            select upload_date, base, source_file, line_no, case when json_valid(line) then line end as line
            from lines
        ),
        typed as materialized (  -- materialized: else each types[i] re-parses the line
            select *, json_type(line) as top, json_type(line, [{paths}]) as types,
                   json_extract_string(line, ['$.submission_id', '$.channel', '$.form', '$.status',
                                              '$.submitted_at', '$.household_id', '$.ea_code',
                                              '$.household_type']) as v,
                   json_type(line, '$.persons[*]') as person_types
            from parsed
        ),
        valid as (
            select upload_date, base, source_file, line_no, line,
                   v[1] as submission_id, v[2] as channel, v[3] as form, v[4] as status,
                   try_cast(v[5] as timestamptz) as submitted_at, v[6] as household_id, v[7] as ea_code,
                   v[8] as household_type
            from typed
            where top = 'OBJECT' and {type_ok}
              and (types[11] = 'BIGINT' or try_cast(line->>'$.h_resident_count' as bigint) is not null)
              and (types[12] = 'BIGINT' or try_cast(line->>'$.h_hukou_absent_count' as bigint) is not null)
              and v[2] in ('pad', 'self') and v[3] in ('short', 'long')
              and v[4] in ('pre_registration', 'final', 'partial')
              and regexp_full_match(v[5], '\\d{{4}}-\\d{{2}}-\\d{{2}}[T ]\\d{{2}}:\\d{{2}}(:\\d{{2}}(\\.\\d+)?)?(Z|[+-]\\d{{2}}:?\\d{{2}})')
              and try_cast(v[5] as timestamptz) is not null
              and coalesce(list_filter(person_types, lambda t: t <> 'OBJECT') = [], true)
              and regexp_full_match(v[7], '\\d{{15}}') and substr(v[7], 1, 6) in {counties}
        )
        select * exclude (upload_date, base, source_file, line_no)
        from valid
        qualify row_number() over (partition by submission_id
                                   order by upload_date nulls last, base, source_file, line_no) = 1
    """)
    con.execute("drop table lines")

    # 4. supersession; household type from the submission, else the frame, else '1'
    frame = utf8_frame(landing, tmp)
    frame_sql = ("select household_id, min(household_type) as frame_type from read_csv("
                 f"'{frame.replace(chr(39), 2 * chr(39))}', all_varchar = true, header = true, delim = ',', "
                 "quote = '\"', escape = '\"') where household_type in ('1', '2') group by household_id"
                 if frame else "select null::varchar as household_id, null::varchar as frame_type")
    con.execute(f"""
        create temp table households as
        with authoritative as (
            select *
            from submissions
            qualify row_number() over (
                partition by household_id
                order by status = 'final' desc, (status = 'final' and form = 'long') desc,
                         submitted_at desc, submission_id desc) = 1
        )
        select a.submission_id, a.household_id, substr(a.ea_code, 1, 6) as county_code, a.status, a.submitted_at,
               coalesce(case when a.household_type in ('1', '2') then a.household_type end, f.frame_type, '1')
                   as household_type,
               a.line
        from authoritative a left join ({frame_sql}) f on f.household_id = a.household_id
    """)
    con.execute("drop table submissions")

    # 5. person lines with their items
    # one json_type and one json_extract_string per person object; codes: digits, "01" = "1", in list
    con.execute("""
        create temp macro code_in(t, v, lo, hi) as
            case when t = 'VARCHAR' and regexp_full_match(trim(v), '[0-9]{1,3}')
                      and try_cast(trim(v) as integer) between lo and hi
                 then cast(cast(trim(v) as integer) as varchar) end
    """)
    keys = ("line_no", "name", "id_number", "id_type", "residence", "hukou_place", "left_hukou_duration",
            "left_hukou_reason", "birth_ym")
    key_list = "[" + ", ".join(f"'$.{k}'" for k in keys) + "]"
    con.execute(f"""
        create temp table person_lines as
        with lines as materialized (
            select h.submission_id, h.household_id, h.county_code, h.household_type, h.status, h.submitted_at,
                   person_index, json_type(p, {key_list}) as t, json_extract_string(p, {key_list}) as v
            from (select h.*, generate_subscripts(ps, 1) as person_index, unnest(ps) as p
                  from (select *, json_extract(line, '$.persons[*]') as ps from households) h) h
        ),
        items as materialized (  -- materialized: id_number is read many times below
            select submission_id, household_id, county_code, household_type, status, submitted_at, person_index,
                   case when t[1] in ('BIGINT', 'UBIGINT') then try_cast(v[1] as bigint) end as line_no,
                   case when t[2] = 'VARCHAR' then v[2] end as person_name,
                   case when t[3] <> 'VARCHAR' then null
                        when right(trim(v[3]), 1) = 'x' then left(trim(v[3]), length(trim(v[3])) - 1) || 'X'
                        else trim(v[3]) end as id_number,
                   case when code_in(t[4], v[4], 1, 9) in ('1', '2', '3', '9') then code_in(t[4], v[4], 1, 9) end
                       as id_type,
                   code_in(t[5], v[5], 1, 6) as residence,
                   code_in(t[6], v[6], 1, 5) as hukou_place,
                   code_in(t[7], v[7], 1, 10) as duration,
                   code_in(t[8], v[8], 1, 10) as reason,
                   case when t[9] = 'VARCHAR' and regexp_full_match(v[9], '[0-9]{{4}}-[0-9]{{2}}')
                             and try_cast(substr(v[9], 6, 2) as integer) between 1 and 12
                             and try_cast(substr(v[9], 1, 4) as integer) between 1890 and 2020
                        then try_cast(replace(v[9], '-', '') as integer) end as birth_ym_form
            from lines
        ),
        checked as materialized (
            select *,
                   coalesce(id_type = '1' and length(id_number) = 18
                            and regexp_full_match(id_number, '[0-9]{{17}}[0-9X]')
                            and try_cast(substr(id_number, 7, 4) || '-' || substr(id_number, 11, 2) || '-'
                                         || substr(id_number, 13, 2) as date) >= date '1890-01-01'
                            and {id_check_sql('id_number')} = substr(id_number, 18, 1), false) as id_ok,
                   case when id_number is not null then first_value(person_name) over (
                       partition by submission_id, id_number order by person_index) end as first_name
            from items
        ),
        dated as (
            select * exclude (id_ok, first_name, birth_ym_form),
                   id_ok and person_name is not distinct from first_name as has_valid_id,
                   case when id_ok and person_name is not distinct from first_name
                        then cast(substr(id_number, 7, 6) as integer) else birth_ym_form end >= 202011
                       as born_after
            from checked
        )
        select *,
               coalesce(not born_after, true) and coalesce(id_type not in ('2', '3'), true) and case
                   when residence = '1' and hukou_place in ('1', '2', '5') then true
                   when residence = '1' and cast(duration as integer) >= 3 then true
                   when residence = '1' and hukou_place in ('3', '4') and duration = '2' then false
                   when residence = '1' then true
                   when duration = '2' then true
                   when residence = '6' and reason in ('1', '2') then true
                   else false end as counts_here
        from dated
    """)
    con.execute("drop table households")

    # 7. duplicates on the valid ID, 8. b1
    return con.execute("""
        with groups as (
            select id_number, count(*) filter (where counts_here) as n_counting
            from person_lines where has_valid_id group by id_number having count(*) > 1
        ),
        ranked as (
            select p.submission_id, p.person_index, g.n_counting,
                   row_number() over (
                       partition by p.id_number
                       order by p.residence = '1' desc, p.status = 'final' desc, p.submitted_at desc,
                                p.submission_id desc, p.line_no asc nulls last, p.person_index) as survivor_rank
            from person_lines p join groups g using (id_number)
            where p.has_valid_id
              and ((g.n_counting > 1 and p.counts_here)
                   or (g.n_counting = 0 and p.residence = '1' and not coalesce(p.born_after, false)))
        ),
        counted as (
            select p.county_code, p.household_id, p.household_type
            from person_lines p
            left join ranked r using (submission_id, person_index)
            where case when r.n_counting > 1 then r.survivor_rank = 1
                       when r.n_counting = 0 then r.survivor_rank = 1
                       else p.counts_here end
        ),
        by_region as (
            select coalesce(county_code, '330100') as region_code,
                   count(*) as population,
                   count(distinct case when household_type = '1' then household_id end) as family_households,
                   count(*) filter (where household_type = '1') as family_household_population,
                   count(distinct case when household_type = '2' then household_id end) as collective_households,
                   count(*) filter (where household_type = '2') as collective_household_population
            from counted
            group by grouping sets ((county_code), ())
        )
        select region_code, population, family_households, family_household_population,
               collective_households, collective_household_population
        from by_region order by region_code
    """).fetchall()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--landing", required=True, help="landing zone folder (uploads/, frame/)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    tmp = tempfile.mkdtemp(prefix="census-ref-duckdb-")
    try:
        con = duckdb.connect(config={
            "memory_limit": os.environ.get("CENSUS_DUCKDB_MEMORY_LIMIT") or "4GB",
            "threads": int(os.environ.get("CENSUS_DUCKDB_THREADS") or os.cpu_count() or 2),
            "temp_directory": os.path.join(tmp, "spill"),
        })
        rows = run(args.landing, con, tmp)
        con.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    elapsed = time.perf_counter() - t0
    city = next((r for r in rows if r[0] == CITY), None)
    city_pop = city[1] if city else 0
    print("== b1_population")
    print("region_code,region_name,population,share_of_city_pct,family_households,family_household_population,"
          "collective_households,collective_household_population,avg_family_household_size")
    for code, pop, fam, fam_pop, col, col_pop in rows:
        cells = [code, REGIONS.get(code, ""), pop, ratio(pop, city_pop, 100, 2), fam, fam_pop, col, col_pop,
                 ratio(fam_pop, fam, 1, 2)]
        print(",".join("" if v is None else str(v) for v in cells))
    print()
    print(f"wall time: {elapsed:.1f} s")
    print(f"persons counted: {city[1] if city else 0}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
