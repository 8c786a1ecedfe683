"""The shape of the loaded Dagster definitions, as data: what a restructure of the code must keep.

`python -m tests.definitions_snapshot > tests/definitions_snapshot.json` rewrites the snapshot;
tests/test_definitions.py compares against it, so a move of files that changes an asset key, a
group, a dependency, a check, a kind or an owner shows up as a diff someone has to mean.
"""

from __future__ import annotations

import json


def snapshot(defs) -> dict:
    graph = defs.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "materializable": node.is_materializable,
            "deps": sorted(p.to_user_string() for p in node.parent_keys),
            "kinds": sorted(node.kinds),
            "owners": sorted(node.owners),
            "zone": node.tags.get("zone"),
            "checks": sorted(c.name for c in node.check_keys),
        }
    return {
        "assets": assets,
        "jobs": sorted(j.name for j in defs.jobs or []),
        "schedules": sorted(s.name for s in defs.schedules or []),
        "sensors": sorted(s.name for s in defs.sensors or []),
    }


if __name__ == "__main__":
    from census_pipeline.definitions import defs

    print(json.dumps(snapshot(defs), indent=1, ensure_ascii=False, sort_keys=True))
