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


@cache
def code_list(name: str) -> tuple[dict[str, str], ...]:
    """Rows of `dbt_project/seeds/<name>.csv` as dicts (strings)."""
    with open(SEEDS_DIR / f"{name}.csv", encoding="utf-8", newline="") as f:
        return tuple(csv.DictReader(f))


# Which divisions are the city, districts or counties is the regions seed's `level` (the dbt var
# city_code names the same row; tests/unit/test_codes.py holds them equal)
CITY_CODE, CITY_NAME = next((r["code"], r["name_zh"]) for r in code_list("regions") if r["level"] == "city")
NON_DISTRICT_COUNTIES = frozenset(r["code"] for r in code_list("regions")
                                  if r["level"] in ("county", "county-level city"))


@cache
def counties() -> dict[str, str]:
    """County-level divisions of the city: code -> Chinese name (the city row excluded)."""
    return {r["code"]: r["name_zh"] for r in code_list("regions") if r["level"] != "city"}


def is_district(code: str) -> bool:
    """A city code that is a district (市辖区), per rules.md Codes."""
    return code.startswith(CITY_CODE[:4]) and code not in NON_DISTRICT_COUNTIES and code != CITY_CODE
