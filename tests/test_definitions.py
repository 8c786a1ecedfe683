"""Definitions load, and every asset is described, grouped, owned and typed."""

from census_pipeline.definitions import defs


def test_every_asset_is_described_grouped_owned_and_kinded():
    graph = defs.resolve_asset_graph()
    keys = [k for k in graph.get_all_asset_keys() if graph.get(k).is_materializable]
    assert len(keys) >= 20
    for key in keys:
        node = graph.get(key)
        assert node.description, key
        assert node.group_name in {"ingestion", "microdata", "quality", "linkage", "coverage_survey", "publication"}, key
        assert node.owners, key
        assert node.kinds, key
        assert node.code_version, key


def test_raw_sources_of_dbt_link_to_the_ingestion_assets():
    graph = defs.resolve_asset_graph()
    stg = graph.get(next(k for k in graph.get_all_asset_keys() if k.path[-1] == "stg_landing__household_submissions"))
    assert any(p.path == ["raw", "household_submissions"] for p in stg.parent_keys)


def test_runs_execute_in_process():
    assert defs.executor.name == "in_process"


def test_dbt_column_descriptions_reach_dagster():
    import dagster as dg

    node = defs.resolve_asset_graph().get(dg.AssetKey(["microdata", "persons"]))
    described = {c.name: c.description for c in node.metadata["dagster/column_schema"].columns}
    assert "keyed pseudonym" in described["person_key"] and "HMAC" in described["person_key"]


def test_the_linkage_audit_sits_with_linkage_in_the_restricted_zone():
    import dagster as dg

    node = defs.resolve_asset_graph().get(dg.AssetKey(["linkage_audit", "register_links"]))
    assert node.group_name == "linkage"
    assert node.tags["zone"] == "restricted"  # it holds register keys beside census lines (outputs.md)
    assert defs.resolve_asset_graph().get(dg.AssetKey(["linkage", "linkage_quality"])).tags["zone"] == "analysis"


def test_definitions_match_their_snapshot():
    """A move of code keeps every asset key, group, dependency, check, kind and owner, unless the
    snapshot is rewritten with it (`python -m tests.definitions_snapshot > tests/definitions_snapshot.json`)
    and the diff says what was meant."""
    import json
    from pathlib import Path

    from tests.definitions_snapshot import snapshot

    expected = json.loads((Path(__file__).parent / "definitions_snapshot.json").read_text())
    got = snapshot(defs)
    for part in ("jobs", "schedules", "sensors"):
        assert got[part] == expected[part], part
    assert sorted(got["assets"]) == sorted(expected["assets"]), "asset keys changed"
    changed = {k: {f: (expected["assets"][k][f], v[f]) for f in v if v[f] != expected["assets"][k][f]}
               for k, v in got["assets"].items()}
    assert not {k: d for k, d in changed.items() if d}


def test_the_code_location_module_holds_one_definitions_object():
    """Dagster's loader (the UI, `dagster dev -w workspace.yaml`) refuses a module with two."""
    import dagster as dg

    import census_pipeline.definitions as module

    assert [name for name, v in vars(module).items() if isinstance(v, dg.Definitions)] == ["defs"]
