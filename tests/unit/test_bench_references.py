"""The two bench references of issue 16 (bench/reference_python.py, bench/reference_duckdb.py) count
the generator's truth: on the small generated census (1,500 households, seed 11), each one's
`persons counted` and its b1 city row equal the truth's city population, and its b1 county rows
the truth's county populations. They run as the bench runs them: a separate process each."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def b1_rows(stdout: str) -> dict[str, dict]:
    """The b1_population table a reference printed, by region_code."""
    lines = stdout.splitlines()
    start = lines.index("== b1_population") + 1
    end = lines.index("", start)
    return {row["region_code"]: row for row in csv.DictReader(lines[start:end])}


@pytest.mark.parametrize("script", ["reference_python.py", "reference_duckdb.py"])
def test_reference_counts_the_truth(small_census, script):
    landing, truth = small_census
    run = subprocess.run([sys.executable, str(BENCH / script), "--landing", str(landing)],
                         capture_output=True, text=True, timeout=120, env=dict(os.environ, CENSUS_DUCKDB_THREADS="2"))
    assert run.returncode == 0, run.stderr
    last = run.stdout.strip().splitlines()[-1]
    counted = re.fullmatch(r"persons counted: (\d+)", last)
    assert counted, last
    city = truth["city"]["population"]
    assert int(counted.group(1)) == city
    rows = b1_rows(run.stdout)
    assert int(rows["330100"]["population"]) == city
    assert {code: int(r["population"]) for code, r in rows.items() if code != "330100"} == {
        code: c["population"] for code, c in truth["county"].items() if c.get("population")}
