"""`census run`'s progress line on a terminal (census_pipeline/lib/progress.py), read from what the
shared `built` run sent to its terminal (tests/builders.py: Terminal, kept beside the warehouse):

- the dbt builds count dbt's nodes up to every node dbt ran (its run_results.json), as many as
  the assets and checks the step makes (runner.step_totals), and upload ingestion its batch files
  up to every upload file of the ledger;
- the line shows only step names, counts and times (never a value);
- it is cleared before each printed line and at the end, so that the terminal shows, once
  redrawn, the same lines as a log file gets, and no progress line is left on it."""

from __future__ import annotations

import json
import re

import pytest

from census_pipeline.defs.dbt import invocation_folders
from census_pipeline.runner import step_totals
from tests.builders import TERMINAL_FILE, warehouse_path

CLEAR = "\r\x1b[K"
FRAME = re.compile(r"  [a-z_]+(  \[[#-]{20}\]  [\d,]+ of [\d,]+ [a-z ]+)?  \d+(:\d\d)+")


@pytest.fixture(scope="module")
def terminal(built) -> str:
    with open(warehouse_path(built[1]).parent / TERMINAL_FILE, encoding="utf-8", newline="") as f:
        return f.read()  # (newline="": a carriage return read as it was sent)


def frames(text: str) -> list[str]:
    """The progress lines drawn: what a clearing is followed by up to the next clearing, with no
    new line (what ends in one is a printed line)."""
    return [piece for piece in text.split(CLEAR)[1:] if piece and "\n" not in piece]


def rendered(text: str) -> list[str]:
    """The lines the terminal shows at the end (a clearing erases the line it is on)."""
    lines, current = [], ""
    for token in re.split(r"(\r\x1b\[K|\n)", text):
        if token == "\n":
            lines.append(current)
            current = ""
        elif token == CLEAR:
            current = ""
        else:
            current += token
    return lines + ([current] if current else [])


def last_count(text: str, step: str) -> tuple[int, int, str]:
    """(done, total, unit) of the last progress line drawn for `step`."""
    found = [m for f in frames(text) if (m := re.fullmatch(
        rf"  {step}  \[[#-]{{20}}\]  ([\d,]+) of ([\d,]+) ([a-z ]+)  \d+(?::\d\d)+", f))]
    assert found, f"no progress line with a count for {step}"
    done, total, unit = found[-1].groups()
    return int(done.replace(",", "")), int(total.replace(",", "")), unit


def test_dbt_builds_count_every_node_dbt_ran(built, terminal):
    """A build's line counts dbt's nodes as dbt finishes them (the assets' events come later, many
    at the end of the build), up to the nodes of its run_results.json; before dbt's first, the
    assets and checks the step makes, which are as many."""
    totals = step_totals()
    for step in ("census_microdata_models", "census_bulletin_models"):
        [folder] = [f for f in invocation_folders(built[0].run_id) if f.name.startswith(f"{step}-")]
        ran = len(json.loads((folder / "run_results.json").read_text())["results"])
        assert last_count(terminal, step) == (ran, ran, "dbt models and tests")
        made = sum(1 for e in built[0].all_events if e.step_key == step
                   and e.event_type_value in ("ASSET_MATERIALIZATION", "ASSET_CHECK_EVALUATION"))
        assert totals[step] == made == ran
    assert totals["census_microdata_models"] > 100  # seeds, models and tests, not one asset per step


def test_upload_ingestion_counts_its_batch_files(built, terminal):
    files = built[1].execute("select count(*) from raw.ingest_files where kind = 'submission'").fetchall()[0][0]
    assert files > 100
    assert last_count(terminal, "upload_batches") == (files, files, "batch files")


def test_the_line_holds_only_steps_counts_and_times(terminal):
    drawn = frames(terminal)
    assert len(drawn) > 50  # redrawn as the run goes, not once
    assert [f for f in drawn if not FRAME.fullmatch(f)] == []


def test_cleared_before_every_printed_line_and_at_the_end(built, terminal):
    shown = rendered(terminal)
    assert [line for line in shown if FRAME.search(line)] == []  # no progress line left, not even in part
    finished = [line for line in shown if line.startswith("  ok      ")]
    steps = {e.step_key for e in built[0].all_events if e.event_type_value == "STEP_SUCCESS"}
    assert {line.split()[1] for line in finished} == steps
    assert len(finished) == len(steps)  # each step's line once
