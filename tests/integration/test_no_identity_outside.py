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

from tests.conftest import warehouse_path

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


def _identities(con) -> tuple[set[str], set[str]]:
    names, ids = set(), set()
    for query, kind in SOURCES:
        for (v,) in con.execute(query).fetchall():
            if isinstance(v, str) and (v := v.strip()):
                (ids if kind == "id" else names).add(v.upper() if kind == "id" else v)
    return {n for n in names if len(n) >= 2}, {i for i in ids if len(i) >= 15}


def _texts(folder: Path):
    """(where, text) of every file under `folder`: text files as they are, workbooks member by member."""
    for p in sorted(folder.rglob("*")):
        if not p.is_file():
            continue
        if p.suffix == ".xlsx":
            with zipfile.ZipFile(p) as z:
                for member in z.namelist():
                    yield f"{p.name}!{member}", z.read(member).decode("utf-8", "replace")
        else:
            yield str(p.relative_to(folder)), p.read_bytes().decode("utf-8", "replace")


def _leaks(text: str, names: set[str], ids: set[str], long_names: list[str]) -> list[str]:
    found = [t for t in ID_SHAPED.findall(text) if t.upper() in ids]
    # a two-character name is also a word (高中, 西湖): it leaks when it stands alone, as a cell or
    # a value; a longer one anywhere
    found += [run for run in CJK_RUN.findall(text) if run in names]
    found += [n for n in long_names if n in text]
    return found


@pytest.fixture(scope="module")
def identities(built):
    _, con, _ = built
    names, ids = _identities(con)
    assert len(names) > 1000 and len(ids) > 1000, "the small census and its registers hold identities"
    return names, ids, sorted(n for n in names if len(n) >= 3)


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
