"""The city is named twice by necessity: the dbt var city_code (SQL renders it as a literal) and
the regions seed's city row (what the Python side and the joins read). They must be one city."""

from pathlib import Path

import yaml

from census_pipeline.lib.codes import CITY_CODE, NON_DISTRICT_COUNTIES, PROJECT_ROOT, counties, is_district


def test_the_dbt_var_city_code_is_the_regions_seed_city_row():
    project = yaml.safe_load(Path(PROJECT_ROOT / "dbt_project" / "dbt_project.yml").read_text(encoding="utf-8"))
    assert project["vars"]["city_code"] == CITY_CODE == "330100"


def test_districts_are_what_the_spec_lists():
    # rules.md, Codes and geography: a code of the city is a district unless it is 330122, 330127
    # or 330182; codes/regions.csv has ten districts; the former districts 330103 and 330104 count
    assert NON_DISTRICT_COUNTIES == {"330122", "330127", "330182"}
    assert sorted(c for c in counties() if is_district(c)) == [
        "330102", "330105", "330106", "330108", "330109", "330110", "330111", "330112", "330113", "330114"]
    assert is_district("330103") and not is_district(CITY_CODE) and not is_district("330281")
