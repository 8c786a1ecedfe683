"""The dbt project documents what a statistician reads in the Dagster UI: every column of every
mart (published, microdata, quality and linkage tables) has a description, and every dbt data
test, which Dagster shows as an asset check, has a short readable name and a description of the
rule it enforces. Read from the manifest the project's own prepare step writes (`dbt parse`)."""

from __future__ import annotations

import copy
import json
import re

import pytest

from census_pipeline.defs.dbt import dbt_project, prepare_manifest

MAX_NAME = 60  # Dagster lists check names beside the asset; the old generated ones ran to ~350 characters
SNAKE = re.compile(r"[a-z][a-z0-9_]*")


@pytest.fixture(scope="module")
def manifest() -> dict:
    return json.loads(prepare_manifest().read_text(encoding="utf-8"))


def nodes(manifest: dict, resource_type: str) -> list[dict]:
    return [n for n in manifest["nodes"].values() if n["resource_type"] == resource_type]


def undescribed_mart_columns(manifest: dict) -> list[str]:
    """`model.column` for each mart column without a description, and `model` for a mart that
    declares no columns at all (its YAML would describe nothing)."""
    missing = []
    for model in nodes(manifest, "model"):
        if not model["original_file_path"].startswith("models/marts/"):
            continue
        if not model["columns"]:
            missing.append(model["name"])
        missing += [f"{model['name']}.{c}" for c, col in model["columns"].items() if not col["description"].strip()]
    return sorted(missing)


def badly_named_or_undescribed_tests(manifest: dict) -> list[str]:
    """One line per data test whose check would read badly in Dagster: no description (dagster-dbt
    shows `meta.description`, which must say the same), a name too long, not snake_case, or shared."""
    problems, seen = [], {}
    for test in nodes(manifest, "test"):
        name = test["name"]
        if not test["description"].strip():
            problems.append(f"{name}: no description")
        if test["meta"].get("description") != test["description"]:
            problems.append(f"{name}: meta.description (what Dagster shows) differs from the description")
        if len(name) >= MAX_NAME:
            problems.append(f"{name}: name of {len(name)} characters (at most {MAX_NAME - 1})")
        if not SNAKE.fullmatch(name):
            problems.append(f"{name}: not a snake_case name")
        if name in seen:
            problems.append(f"{name}: name shared with another test")
        seen[name] = test["unique_id"]
    return sorted(problems)


def test_every_mart_column_is_described(manifest):
    assert undescribed_mart_columns(manifest) == []


def test_every_data_test_has_a_short_name_and_a_description(manifest):
    assert len(nodes(manifest, "test")) > 100  # the check counts all of them, not an empty list
    assert badly_named_or_undescribed_tests(manifest) == []


def test_every_model_seed_and_unit_test_is_described(manifest):
    undescribed = [n["name"] for kind in ("model", "seed") for n in nodes(manifest, kind) if not n["description"].strip()]
    undescribed += [u["name"] for u in manifest["unit_tests"].values() if not u["description"].strip()]
    assert undescribed == []


def test_the_checks_catch_what_they_are_for(manifest):
    """A column or test stripped of its description, and a test given a generated name, are found."""
    broken = copy.deepcopy(manifest)
    persons = next(n for n in nodes(broken, "model") if n["name"] == "persons")
    persons["columns"]["age"]["description"] = ""
    test = nodes(broken, "test")[0]
    test["description"] = ""
    other = nodes(broken, "test")[1]
    other["name"] = "expression_is_true_b3_age_pct_0_14_between_0_and_100_and_pct_60_plus_between_0_and_100"
    assert undescribed_mart_columns(broken) == ["persons.age"]
    problems = badly_named_or_undescribed_tests(broken)
    assert f"{test['name']}: no description" in problems
    assert any(p.startswith(f"{other['name']}: name of ") for p in problems)


def test_the_manifest_is_the_one_dagster_loads():
    assert prepare_manifest() == dbt_project.manifest_path
