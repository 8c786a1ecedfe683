"""Quality pages that open with no network: one page per suite, an index, and Great Expectations'
own Data Docs with their CDN scripts and styles taken out.

GX 1.x Data Docs load Bootstrap, jQuery, bootstrap-table, Vega and Font Awesome from CDNs, and
its index page is drawn by a script: offline it is blank. Each GX page is rewritten to use one
local stylesheet (static/data_docs.css, beside this module) and no script; the index is replaced
by a static one; and each suite also gets a page of our own (reports/<suite>.html), drawn from
counts only, which is the one a Dagster check links to. No page shows a value of a row: the
validation results are stripped of them before GX stores or renders anything (see expectations.py).
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import re
import shutil
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: runs of one instance are not concurrent there
    fcntl = None

STYLESHEET = Path(__file__).parent / "static" / "data_docs.css"
STYLE_AT = "static/styles/census_data_docs.css"  # inside the Data Docs site
MARK = "<!-- census: offline -->"

_EXTERNAL = [
    re.compile(r"<script\b[^>]*>.*?</script>", re.S | re.I),  # CDN libraries and the inline code that needs them
    re.compile(r"<link\b[^>]*\bhref=[\"']https?://[^>]*>", re.I),
    re.compile(r"<img\b[^>]*\bsrc=[\"']https?://[^>]*>", re.I),
]
_CSS_URL = re.compile(r"url\(\s*['\"]?https?://[^)]*\)", re.I)
_LINK_OUT = re.compile(r"href=([\"'])https?://[^\"']*\1", re.I)  # GX's newsletter and home page


def offline(page: str, depth: int) -> str:
    """A GX page with no request outside the site: scripts, CDN links and images removed, the
    local stylesheet linked. `depth` is how many folders below the site's root the page sits."""
    for pattern in _EXTERNAL:
        page = pattern.sub("", page)
    page = _LINK_OUT.sub('href="#"', _CSS_URL.sub("none", page))
    link = f'<link rel="stylesheet" href="{"../" * depth}{STYLE_AT}">'
    return page.replace("</head>", f"{link}\n{MARK}\n</head>", 1)


def make_site_offline(site: Path) -> None:
    """Rewrite every GX page of the site not yet rewritten (GX writes new ones on each build)."""
    target = site / STYLE_AT
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(STYLESHEET, target)
    for page in site.rglob("*.html"):
        rel = page.relative_to(site)
        if rel.parts[0] == "reports" or rel == Path("index.html"):
            continue  # ours, drawn offline from the start
        text = page.read_text(encoding="utf-8")
        if MARK not in text:
            write_atomically(page, offline(text, len(rel.parts) - 1))


@contextlib.contextmanager
def site_lock(site: Path):
    """Held while GX builds and the pages are rewritten: GX writes a page in place, so another run
    rewriting the site at that moment could keep half a page."""
    site.mkdir(parents=True, exist_ok=True)
    with open(site / ".lock", "w") as handle:
        if fcntl:
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    staging.write_text(text, encoding="utf-8")
    os.replace(staging, path)


def _page(title: str, body: str) -> str:
    style = STYLESHEET.read_text(encoding="utf-8")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
            f"<title>{html.escape(title)}</title>\n<style>\n{style}</style>\n</head>\n"
            f"<body><main>\n{body}\n</main></body></html>\n")


def _table(columns: list[str], rows: list[list[str]]) -> str:
    """Cells are HTML already escaped by the caller."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "\n".join("<tr>" + "".join(r) + "</tr>" for r in rows)
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody></table>"


def _cell(text, css: str = "") -> str:
    attr = f' class="{css}"' if css else ""
    return f"<td{attr}>{html.escape('' if text is None else str(text))}</td>"


def suite_report(suite: str, outcomes, run_time: str, gx_page: str | None) -> str:
    """Our page for one suite's latest validation: one row per expectation, counts only."""
    failed = {s: sum(o.severity == s and not o.success for o in outcomes) for s in ("ERROR", "WARN")}
    verdict = ("failed" if failed["ERROR"] else "passed",
               f"{failed['ERROR']} blocking failure(s), {failed['WARN']} warning(s), "
               f"{len(outcomes)} expectations evaluated")
    rows = [[_cell(o.rule), _cell(o.column or "(rows)"), _cell(o.words), _cell(o.severity),
             _cell("passed" if o.success else "FAILED", "passed" if o.success else
                   ("failed" if o.severity == "ERROR" else "warn")),
             _cell(o.observed), _cell(o.description, "muted")] for o in outcomes]
    links = ['<a href="../index.html">all suites</a>']
    if gx_page:
        links.append(f'<a href="{html.escape(gx_page)}">Great Expectations validation page</a>')
    links.append(f'<a href="../expectations/{html.escape(suite)}.html">the suite in Great Expectations</a>')
    body = (f"<h1>Quality gate: {html.escape(suite)}</h1>\n"
            f'<p class="{verdict[0]}">{verdict[0].upper()}: {html.escape(verdict[1])}</p>\n'
            f'<p class="muted">Validated {html.escape(run_time)}. ERROR rules block the run; WARN rules are '
            "reported. Observed values are counts of rows: no value of any row is shown.</p>\n"
            + _table(["rule", "column", "expectation", "severity", "result", "observed", "what it checks"], rows)
            + "\n<p>" + " · ".join(links) + "</p>")
    return _page(f"Quality gate {suite}", body)


def latest_validations(validations: Path) -> dict[str, tuple[Path, dict]]:
    """Per suite, the newest stored (stripped) validation result: (path relative to the store, result)."""
    latest: dict[str, tuple[Path, dict]] = {}
    for path in sorted(validations.glob("*/*/*/*.json")):  # suite/batch/run time/batch id
        rel = path.relative_to(validations)
        suite, run = rel.parts[0], rel.parts[2]
        if suite not in latest or run >= latest[suite][0].parts[2]:
            latest[suite] = (rel, json.loads(path.read_text(encoding="utf-8")))
    return latest


def site_index(validations: Path, suites: list[str]) -> str:
    """The site's index, static: each suite's latest result and links to its pages."""
    latest = latest_validations(validations)
    rows = []
    for suite in suites:
        if suite not in latest:
            rows.append([_cell(suite), _cell("not run yet", "muted"), _cell(""), _cell(""), _cell(""),
                         f'<td><a href="expectations/{html.escape(suite)}.html">suite</a></td>'])
            continue
        rel, result = latest[suite]
        stats = result.get("statistics", {})
        ok = result.get("success")
        gx_page = "validations/" + rel.with_suffix(".html").as_posix()
        rows.append([
            f'<td><a href="reports/{html.escape(suite)}.html">{html.escape(suite)}</a></td>',
            _cell("passed" if ok else "FAILED", "passed" if ok else "failed"),
            _cell(rel.parts[2]),
            _cell(f"{stats.get('successful_expectations', 0)} of {stats.get('evaluated_expectations', 0)}", "num"),
            _cell(stats.get("unsuccessful_expectations", 0), "num"),
            f'<td><a href="{html.escape(gx_page)}">validation</a> · '
            f'<a href="expectations/{html.escape(suite)}.html">suite</a></td>'])
    body = ("<h1>Census quality gates</h1>\n"
            '<p class="muted">Each suite\'s latest validation. A suite fails when any of its expectations fails '
            "(WARN rules included); the Dagster check of each suite says which block the run.</p>\n"
            + _table(["suite", "result", "validated (UTC)", "expectations met", "failed", "Great Expectations"], rows))
    return _page("Census quality gates", body)
