"""The quality pages of a real run: every suite's pages written, nothing loaded from the network,
each gate check showing its suite's expectations and linking to the suite's own page, and no
name or ID number anywhere (issue 15, item 6)."""

import json
import re
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import dagster as dg
import duckdb
import pytest

from census_pipeline.defs.quality.gates import GATES
from census_pipeline.resources.expectations import GreatExpectations, suite_expectation_count
from tests.builders import warehouse_path

EXTERNAL = re.compile(r"<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)=[\"']?(?:https?:)?//|url\(\s*['\"]?(?:https?:)?//",
                      re.I)
LOCAL_TARGET = re.compile(r"<(?:a|link|script|img)\b[^>]*\b(?:href|src)=\"([^\"#]+)\"", re.I)


def _site(con) -> Path:
    return warehouse_path(con).parent / "out" / "quality" / "data_docs"


def _checks(result):
    return [e.event_specific_data for e in result.all_events
            if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
            and e.event_specific_data.check_name.startswith(tuple(g.suite for g in GATES))]


def _secrets(con, n: int = 25) -> list[str]:
    """A few names and ID numbers from the restricted person lines."""
    rows = con.execute(f"""
        select json_extract_string(name, '$'), json_extract_string(id_number, '$') from raw.person_lines
        where name is not null and id_number is not null order by submission_id, person_index limit {n}""").fetchall()
    secrets = [v for row in rows for v in row if v and len(v) >= 2]
    assert len(secrets) >= n, "the small census has names and ID numbers to look for"
    return secrets


def test_every_suite_has_its_pages_and_every_link_resolves(built):
    _, con, _ = built
    site = _site(con)
    for gate in GATES:
        assert (site / "reports" / f"{gate.suite}.html").is_file(), gate.suite
        assert (site / "expectations" / f"{gate.suite}.html").is_file(), gate.suite
        assert list((site / "validations" / gate.suite).rglob("*.html")), gate.suite
    index = (site / "index.html").read_text(encoding="utf-8")
    assert all(f'reports/{g.suite}.html' in index for g in GATES)
    for page in [site / "index.html", *(site / "reports").glob("*.html")]:
        for target in LOCAL_TARGET.findall(page.read_text(encoding="utf-8")):
            assert (page.parent / unquote(target)).resolve().is_file(), (page.name, target)


def test_no_page_loads_anything_from_the_network(built):
    _, con, _ = built
    pages = list(_site(con).rglob("*.html"))
    assert len(pages) >= 3 * len(GATES) + 1
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert not EXTERNAL.search(text), (page, EXTERNAL.search(text).group(0))
        assert not re.search(r"<script\b", text, re.I), page  # GX's inline code needs the CDN's jQuery


def test_each_gate_check_shows_its_suite_and_links_to_the_suite_page(built):
    result, con, _ = built
    checks = _checks(result)
    assert {c.check_name for c in checks} == {f"{g.suite}_{k}" for g in GATES for k in ("gate", "warnings")}
    for check in checks:
        suite = check.check_name.rsplit("_", 1)[0]
        table = check.metadata["expectations"].value
        rows = [line for line in table.splitlines()[2:] if line.startswith("|")]
        assert len(rows) == suite_expectation_count(suite), check.check_name
        assert all(("passed" in r) != ("FAILED" in r) for r in rows)
        report = Path(unquote(urlparse(check.metadata["report"].value).path))
        assert report == _site(con) / "reports" / f"{suite}.html" and report.is_file()
        assert Path(check.metadata["data_docs"].value).is_file()


def test_no_name_or_id_number_in_any_page_or_check(built):
    result, con, _ = built
    secrets = _secrets(con)
    quality = _site(con).parent
    texts = {str(p): p.read_text(encoding="utf-8") for p in quality.rglob("*") if p.suffix in (".html", ".json")}
    texts |= {c.check_name: json.dumps({k: str(v.value) for k, v in c.metadata.items()}, ensure_ascii=False)
              for c in _checks(result)}
    for where, text in texts.items():
        found = [s for s in secrets if s in text]
        assert not found, (where, len(found))


@pytest.fixture()
def names_in_a_code_column(built, tmp_path):
    """A copy of the warehouse in which three counted persons carry a name or an ID number where an
    ethnicity code belongs: a column map expectation fails on them, and GX samples their values
    (the raw suite has no code list of its own left: ingestion quarantines a line with a wrong code)."""
    _, con, _ = built
    secrets = _secrets(con, 5)[:3]
    copy = tmp_path / "w.duckdb"
    shutil.copy(warehouse_path(con), copy)
    w = duckdb.connect(str(copy))
    keys = [r[0] for r in w.execute("select person_key from microdata.persons where is_counted "
                                    "order by 1 limit 3").fetchall()]
    for key, secret in zip(keys, secrets, strict=True):
        w.execute("update microdata.persons set ethnicity = ? where person_key = ?", [secret, key])
    w.close()
    return copy, secrets, keys


def test_a_suite_never_writes_the_values_it_found(names_in_a_code_column, tmp_path):
    warehouse, secrets, ids = names_in_a_code_column
    out = tmp_path / "out"
    runner = GreatExpectations(warehouse_path=str(warehouse), output_dir=str(out))
    gate = next(g for g in GATES if g.suite == "microdata__persons")
    result = runner.validate(gate.suite, gate.query, gate.key_column)
    found = next(o for o in result.outcomes if o.rule == "ethnicity code list")
    assert not found.success and found.unexpected_count == 3
    assert set(found.sample) == set(ids)  # failing rows named by their pseudonym only
    assert found.observed.startswith("3 unexpected")
    files = [p for p in out.rglob("*") if p.is_file() and p.suffix in (".html", ".json")]
    assert any(p.suffix == ".json" for p in files) and any("reports" in p.parts for p in files)
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert not [s for s in secrets if s in text], path
    assert not [s for s in secrets if s in repr(result)]
    stored = json.loads(next((out / "quality" / "validations").rglob("*.json")).read_text(encoding="utf-8"))
    assert all(set(r["result"]) <= {"element_count", "missing_count", "missing_percent", "unexpected_count",
                                     "unexpected_percent", "unexpected_percent_total",
                                     "unexpected_percent_nonmissing", "observed_value"} for r in stored["results"])
