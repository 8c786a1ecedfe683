"""No name and no ID number of anyone the census or the registers hold leaves the restricted zone
through what a run writes or tells: every published and reported file, and every event of the run
(asset metadata, check results, step outputs) as Dagster stores and shows it.

The analysis tables and the quality pages have their own scans (test_microdata, test_quality_pages);
this one looks at everything else a run leaves behind, for the identities of every source:
person lines, deaths reported on the forms, and the three registers."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest

from tests.builders import warehouse_path

ID_SHAPED = re.compile(r"[0-9]{15,17}[0-9Xx]")
CJK_RUN = re.compile(r"[\u3400-\u9fff·]{2,}")

# every identity of the restricted zone: (query, kind)
SOURCES = [
    ("select json_extract_string(name, '$') from raw.person_lines", "name"),
    ("select json_extract_string(id_number, '$') from raw.person_lines", "id"),
    ("select json_extract_string(name, '$') from raw.death_lines", "name"),
    ("select json_extract_string(id_number, '$') from raw.death_lines", "id"),
    ("select name from raw.hukou_register", "name"),
    ("select id_number from raw.hukou_register", "id"),
    ("select child_name from raw.birth_register", "name"),
    ("select mother_name from raw.birth_register", "name"),
    ("select mother_id_number from raw.birth_register", "id"),
    ("select name from raw.death_register", "name"),
    ("select id_number from raw.death_register", "id"),
]


def _identities(con) -> tuple[set[str], set[str], list[str]]:
    """(names, ID numbers, the names of three characters or more) of the restricted zone: what
    _leaks looks for."""
    names, ids = set(), set()
    for query, kind in SOURCES:
        for (v,) in con.execute(query).fetchall():
            if isinstance(v, str) and (v := v.strip()):
                (ids if kind == "id" else names).add(v.upper() if kind == "id" else v)
    names = {n for n in names if len(n) >= 2}
    return names, {i for i in ids if len(i) >= 15}, sorted(n for n in names if len(n) >= 3)


def _texts(folder: Path, since: float = 0.0):
    """(where, text) of every file under `folder` (changed at `since` or later): text files as they
    are, JSON's \\uXXXX escapes decoded (Dagster's serialized events in its SQLite files), workbooks
    member by member."""
    for p in sorted(folder.rglob("*")):
        if not p.is_file() or p.stat().st_mtime < since:
            continue
        if p.suffix == ".xlsx":
            with zipfile.ZipFile(p) as z:
                for member in z.namelist():
                    yield f"{p.name}!{member}", z.read(member).decode("utf-8", "replace")
        else:
            yield str(p.relative_to(folder)), _unescaped(p.read_bytes().decode("utf-8", "replace"))


def _unescaped(text: str) -> str:
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)


def _leaks(text: str, names: set[str], ids: set[str], long_names: list[str]) -> list[str]:
    found = [t for t in ID_SHAPED.findall(text) if t.upper() in ids]
    # a two-character name is also a word (高中, 西湖): it leaks when it stands alone, as a cell or
    # a value; a longer one anywhere. A Chinese name is inside a run of Chinese characters, so the
    # runs' substrings are looked up (one pass over the text: a run scans ~300 MB of dbt artifacts);
    # any other name (Latin letters) is searched for as it is
    runs = CJK_RUN.findall(text)
    found += [run for run in runs if run in names]
    cjk = {n for n in long_names if CJK_RUN.fullmatch(n)}
    if cjk:
        sizes = sorted({len(n) for n in cjk})
        found += sorted({run[i:i + k] for run in runs for k in sizes for i in range(len(run) - k + 1)} & cjk)
    found += [n for n in long_names if n not in cjk and n in text]
    return found


@pytest.fixture(scope="module")
def identities(built):
    _, con, _ = built
    identities = _identities(con)
    assert len(identities[0]) > 1000 and len(identities[1]) > 1000, "the small census and its registers hold identities"
    return identities


def test_no_identity_in_any_file_the_run_wrote(built, identities):
    _, con, _ = built
    out = warehouse_path(con).parent / "out"
    texts = list(_texts(out))
    assert any(w.endswith("bulletin.html") for w, _ in texts) and any("bulletin.xlsx!" in w for w, _ in texts)
    assert len(texts) > 20, [w for w, _ in texts]
    leaks = {where: found[:3] for where, text in texts if (found := _leaks(text, *identities))}
    assert not leaks


def test_no_identity_in_any_event_of_the_run(built, identities):
    result, _, _ = built
    events = [repr(e) for e in result.all_events]
    assert len(events) > 100
    kinds = {e.event_type_value for e in result.all_events}
    assert {"ASSET_MATERIALIZATION", "ASSET_CHECK_EVALUATION"} <= kinds
    leaks = [found[:3] for text in events if (found := _leaks(text, *identities))]
    assert not leaks


def test_the_scan_finds_a_planted_identity(identities):
    """The scan itself works: an ID number, a long name, and a short name as a whole cell are found;
    a short name inside a longer word is not taken for one."""
    names, ids, long_names = identities
    an_id, a_long = sorted(ids)[0], long_names[0]
    a_short = sorted(n for n in names if len(n) == 2)[0]
    assert _leaks(f"x,{an_id.lower()},y", *identities)
    assert _leaks(f"<td>{a_long}先生</td>", *identities)
    assert _leaks(f"region,{a_short},3", *identities)
    assert not _leaks("常住人口,受教育程度,高中", set(), set(), [])


def test_a_run_with_hostile_lines_leaves_no_identity_in_the_instance_the_logs_or_the_analysis_zone(cli_run):
    """The session's `census run` (a CLI run, its own DAGSTER_HOME) read a batch and a register
    extract of contract-breaking lines carrying real persons' names and ID numbers where a reason
    might quote them (tests/hostile.py). Every planted line is quarantined with a reason, and no
    identity of the census or its registers is anywhere outside the restricted zone: the analysis
    schemas, the run's output and log files, its console, Dagster's stored events, runs and
    compute logs (the SQLite files read as bytes too), and dbt's logs and artifacts."""
    import dagster as dg
    import duckdb

    from census_pipeline.lib.codes import PROJECT_ROOT
    from tests.hostile import HOSTILE_BATCH, HOSTILE_EXTRACT

    assert cli_run.run is not None and cli_run.run.returncode == 0, "the session's CLI run failed: see test_cli.py"
    con = duckdb.connect(str(cli_run.folder / "w.duckdb"), read_only=True)
    try:
        identities = _identities(con)
        planted = con.execute(
            "select count(*), count(reason) from raw.rejected_lines where source_file like ? or source_file like ?",
            [f"%{HOSTILE_BATCH}", f"%{HOSTILE_EXTRACT}"]).fetchone()
        assert planted == (cli_run.planted, cli_run.planted), "every planted line is quarantined with a reason"
        assert con.execute("select count(*) from quality.quarantine where source_file like ? or source_file like ?",
                           [f"%{HOSTILE_BATCH}", f"%{HOSTILE_EXTRACT}"]).fetchone()[0] == cli_run.planted
        texts = []
        for schema, table in con.execute("select table_schema, table_name from information_schema.tables "
                                         "where table_schema not in ('raw', 'staging', 'intermediate')").fetchall():
            cols = [c[0] for c in con.execute(f"describe {schema}.{table}").fetchall() if c[1] == "VARCHAR"]
            for c in cols:
                values = con.execute(f"select string_agg({c}, chr(10)) from {schema}.{table}").fetchone()[0]
                texts.append((f"{schema}.{table}.{c}", values or ""))
    finally:
        con.close()
    assert any(w.startswith("quality.quarantine.") for w, _ in texts) and len(texts) > 50

    home = cli_run.folder / "dagster_home"
    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs()
        assert runs
        for run in runs:
            texts.append((f"run {run.run_id}", repr(run)))
            events = instance.all_logs(run.run_id)
            assert len(events) > 100
            texts += [(f"event of {run.run_id}", repr(e)) for e in events]
    files = [*_texts(home), *_texts(cli_run.folder / "out")]
    files += [text for d in ("target", "logs") if (PROJECT_ROOT / "dbt_project" / d).exists()
              for text in _texts(PROJECT_ROOT / "dbt_project" / d, cli_run.started)]
    assert any(w.endswith(".db") for w, _ in files) and any("census-run-" in w for w, _ in files)
    texts += [*files, ("console", cli_run.run.stdout + cli_run.run.stderr)]
    leaks = {where: found[:3] for where, text in texts if (found := _leaks(text, *identities))}
    assert not leaks
