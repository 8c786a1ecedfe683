"""The census code lists (`../shared/spec/codes/`), kept once as the dbt seeds."""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SEEDS_DIR = PROJECT_ROOT / "dbt_project" / "seeds"
DATA_DIR = PROJECT_ROOT / "data"
# Where the census's files are when the environment does not say (the one home of these defaults;
# the Makefile exports the same three)
DEFAULT_LOCATIONS = {
    "CENSUS_LANDING_DIR": DATA_DIR / "landing",
    "CENSUS_WAREHOUSE": DATA_DIR / "warehouse.duckdb",
    "CENSUS_OUTPUT_DIR": DATA_DIR / "output",
}

CITY_CODE = "330100"
NON_DISTRICT_COUNTIES = frozenset({"330122", "330127", "330182"})


@cache
def code_list(name: str) -> tuple[dict[str, str], ...]:
    """Rows of `dbt_project/seeds/<name>.csv` as dicts (strings)."""
    with open(SEEDS_DIR / f"{name}.csv", encoding="utf-8", newline="") as f:
        return tuple(csv.DictReader(f))


@cache
def counties() -> dict[str, str]:
    """County-level divisions of the city: code -> Chinese name (the city row excluded)."""
    return {r["code"]: r["name_zh"] for r in code_list("regions") if r["level"] != "city"}


def is_district(code: str) -> bool:
    """A city code that is a district (市辖区), per rules.md Codes."""
    return code.startswith("3301") and code not in NON_DISTRICT_COUNTIES and code != CITY_CODE
