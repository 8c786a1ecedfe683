"""The dbt unit tests: each census rule a model encodes (the resident rule's clauses, supersession,
the edits, linkage's and the survey's decisions) on hand-written rows with the expected result.

They test the SQL, not the census: they run here, on every change, and not in a production run
(its dbt builds exclude them, as dbt advises), where they would cost each run their time and
prove nothing new about its data."""

import json
import shutil

from census_pipeline.defs.dbt import invocation_folders
from tests.builders import warehouse_path
from tests.dbt_helpers import manifest, run_unit_tests, warehouse_file_name


def test_every_dbt_unit_test_passes(built, tmp_path):
    _, con, _ = built
    warehouse = tmp_path / warehouse_file_name()  # a copy: dbt writes its fixtures into the warehouse
    shutil.copyfile(warehouse_path(con), warehouse)
    res = run_unit_tests(warehouse, tmp_path / "dbt_target")
    ran = {r.node.unique_id: r.status for r in res.result}
    assert set(ran) == set(manifest().unit_tests) and len(ran) >= 7, sorted(ran)
    assert res.success and set(ran.values()) == {"pass"}, {k: v for k, v in ran.items() if v != "pass"}


def test_production_builds_leave_the_unit_tests_out(built):
    result, _, _ = built
    runs = [f / "run_results.json" for f in invocation_folders(result.run_id)]
    assert len(runs) >= 2, runs  # the microdata and the bulletin builds
    ran = [r["unique_id"] for p in runs for r in json.loads(p.read_text())["results"]]
    assert any(u.startswith("test.") for u in ran)  # the data tests run
    assert not [u for u in ran if u.startswith("unit_test.")]
