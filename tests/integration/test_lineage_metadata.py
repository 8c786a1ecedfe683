"""Tracing a published number in the UI: column lineage and compiled SQL on the dbt assets.

Read from the materializations of the one shared run (`built`, tests/conftest.py): what the UI
shows is what these events carry.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping

import dagster as dg
import pytest

from census_pipeline.dbt_plugin import hmac_pads
from census_pipeline.definitions import defs
from census_pipeline.defs.dbt import DBT_DIR

LINEAGE = "dagster/column_lineage"

# Bulletin columns that may have no upstream column, and why. Empty: every published figure
# traces back; a new column that does not must be listed here with its reason.
NO_UPSTREAM: dict[tuple[str, str], str] = {}


def materializations(result) -> dict[dg.AssetKey, dg.AssetMaterialization]:
    return {e.event_specific_data.materialization.asset_key: e.event_specific_data.materialization
            for e in result.all_events if e.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION}


def lineage(mats, key: dg.AssetKey) -> dict[str, list[dg.TableColumnDep]]:
    value = mats[key].metadata.get(LINEAGE)
    return dict(value.value.deps_by_column) if value else {}


def upstream_columns(mats, key: dg.AssetKey, column: str) -> set[tuple[str, str]]:
    """Every (asset, column) reached from one column by following each asset's recorded lineage."""
    seen, todo = set(), [(key, column)]
    while todo:
        k, c = todo.pop()
        for dep in lineage(mats, k).get(c, []) if k in mats else []:
            step = (dep.asset_key, dep.column_name)
            if (dep.asset_key.to_user_string(), dep.column_name) not in seen:
                seen.add((dep.asset_key.to_user_string(), dep.column_name))
                todo.append(step)
    return seen


@pytest.fixture(scope="module")
def mats(built):
    result, _, _ = built
    return materializations(result)


def test_a_bulletin_population_traces_back_to_the_items_as_collected(mats):
    reached = upstream_columns(mats, dg.AssetKey(["bulletin", "b1_population"]), "population")
    # counted where they usually live (the resident rule reads the residence item) ...
    assert ("staging/stg_landing__person_lines", "residence") in reached
    assert ("raw/person_lines", "residence") in reached
    # ... and the persons are grouped by the county of their enumeration area
    assert any(a.startswith("microdata/") and c == "county_code" for a, c in reached)


def test_a_count_of_men_traces_back_to_the_sex_item(mats):
    reached = upstream_columns(mats, dg.AssetKey(["bulletin", "b2_sex"]), "male")
    assert ("microdata/persons", "sex") in reached
    assert ("staging/stg_landing__person_lines", "sex_reported") in reached
    assert ("raw/person_lines", "sex") in reached
    # a valid ID number gives the sex (its 17th digit) over the item as written
    assert ("staging/stg_landing__person_lines", "id_number") in reached


def test_every_bulletin_column_has_lineage_or_a_stated_reason(built, mats):
    _, con, _ = built
    tables = con.execute("""select table_name, list(column_name) from information_schema.columns
                            where table_schema = 'bulletin' group by all""").fetchall()
    assert len(tables) >= 8
    missing = []
    for table, columns in tables:
        key = dg.AssetKey(["bulletin", table])
        if key not in _dbt_keys():
            continue  # written by a Python asset (e.g. disclosure control), not a dbt model
        deps = lineage(mats, key)
        missing += [(table, c) for c in columns if not deps.get(c) and (table, c) not in NO_UPSTREAM]
    assert not missing, missing


def test_every_dependency_names_a_real_column_of_a_parent(built, mats):
    _, con, _ = built
    graph = defs.resolve_asset_graph()
    columns = {(s, t): set(cols) for s, t, cols in con.execute(
        "select table_schema, table_name, list(column_name) from information_schema.columns group by all"
    ).fetchall()}
    checked = 0
    for key in _dbt_keys() & set(mats):
        parents = graph.get(key).parent_keys
        for column, deps in lineage(mats, key).items():
            assert column in columns[tuple(key.path)], (key, column)
            for dep in deps:
                assert dep.asset_key in parents, (key, column, dep)
                assert dep.column_name in columns[tuple(dep.asset_key.path)], (key, column, dep)
                checked += 1
    assert checked > 500


def test_every_sql_model_has_lineage_for_every_column(built, mats, capsys):
    _, con, _ = built
    python_models = {p.stem for p in (DBT_DIR / "models").rglob("*.py")}
    assert python_models  # Python models: not SQL, so no lineage (their columns stay without)
    columns = {(s, t): cols for s, t, cols in con.execute(
        "select table_schema, table_name, list(column_name) from information_schema.columns group by all"
    ).fetchall()}
    without, counts = [], {}
    for key in _dbt_keys():
        if key.path[0] == "codes" or key.path[-1] in python_models:
            assert LINEAGE not in mats[key].metadata, key  # seeds read nothing; Python is not parsed
            continue
        deps = lineage(mats, key)
        without += [(key.to_user_string(), c) for c in columns[tuple(key.path)] if c not in deps]
        group = key.path[0] if key.path[0] in ("bulletin", "microdata") else "other models"
        n, traced, upstream = counts.get(group, (0, 0, 0))
        counts[group] = (n + len(columns[tuple(key.path)]), traced + sum(c in deps for c in columns[tuple(key.path)]),
                         upstream + sum(bool(d) for d in deps.values()))
    with capsys.disabled():
        for group, (n, traced, upstream) in sorted(counts.items()):
            print(f"\ncolumn lineage, {group}: {traced} of {n} columns traced ({100 * traced / n:.1f}%), "
                  f"{upstream} with upstream columns, {traced - upstream} constants")
    assert not without, without  # a column sqlglot cannot follow: say why here, or make it followable


def test_the_compiled_sql_is_on_the_asset_page(mats):
    sql = mats[dg.AssetKey(["microdata", "persons"])].metadata["compiled_sql"].value
    assert sql.startswith("```sql") and "int_persons_edited" in sql
    assert "{{" not in sql and "{%" not in sql and "ref(" not in sql
    assert "getvariable('census_hmac_ipad')" in sql  # the key reaches DuckDB as a session variable only
    assert "compiled_sql" in mats[dg.AssetKey(["bulletin", "b1_population"])].metadata


def test_no_metadata_holds_the_key_and_no_sql_or_lineage_a_person_identifier(built):
    result, con, _ = built
    key = os.environ["CENSUS_PSEUDONYM_KEY"]
    every = [m.metadata for m in materializations(result).values()]
    # every metadata value of the run: materializations, observations, check results, step outputs
    holders = [h for e in result.all_events if e.event_specific_data is not None
               for h in (e.event_specific_data, getattr(e.event_specific_data, "materialization", None))]
    text = "\n".join(str(v) for h in holders if isinstance(getattr(h, "metadata", None), Mapping)
                     for v in h.metadata.values())
    assert len(every) > 50 and len(text) > 100_000
    for secret in (key, key.encode().hex(), *(p.hex() for p in hmac_pads(key))):
        assert secret not in text
    # SQL and lineage: column names and code only. Every ID number and name the census collected
    # is looked for in them (a literal could carry one: a seed value, a hard-coded exception).
    ours = "\n".join(str(m[k].value) for m in every for k in (LINEAGE, "compiled_sql") if k in m)
    assert ours.count("```sql") >= 40
    ids, names = (
        {v for (v,) in con.execute(f"select distinct {col} from staging.stg_landing__person_lines "
                                   f"where {col} is not null").fetchall()}
        for col in ("id_number", "person_name"))
    assert len(ids) > 1000 and len(names) > 1000
    assert not ids & set(re.findall(r"[0-9]{17}[0-9Xx]|[0-9]{15}", ours))
    words = set(re.findall(r"[^\W\d_]{2,}", ours))  # a name is a word of its own in SQL text
    assert not names & words


@functools.cache
def _dbt_keys() -> frozenset[dg.AssetKey]:
    graph = defs.resolve_asset_graph()
    return frozenset(k for k in graph.get_all_asset_keys()
                     if graph.get(k).is_materializable and "dbt" in graph.get(k).kinds)
