"""`census explain` on the session's materialized census (`built`): every person-count cell it
traces counts exactly the published value, its provenance figures equal counts taken here by
other routes (the raw submissions, the persons' own flags), counties add up to the city, a cell
that counts no persons says so, a held warehouse gives one line, and no name or ID number of
the restricted tables ever reaches the output."""

import fcntl
import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from census_pipeline.lib.explain import CELLS, explain

COUNTIES = ["330102", "330105", "330106", "330108", "330109", "330110", "330111", "330112", "330113", "330114",
            "330122", "330127", "330182"]
EDIT_COLUMNS = ["sex_edit_rule", "birth_edit_rule", "relationship_edit_rule", "ethnicity_edit_rule",
                "education_edit_rule", "literate_edit_rule"]


def warehouse_of(con) -> str:
    return next(r[2] for r in con.execute("pragma database_list").fetchall() if r[2])


def run_explain(warehouse: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CENSUS_WAREHOUSE": warehouse}
    return subprocess.run([sys.executable, "-m", "census_pipeline.cli", "explain", *args],
                          capture_output=True, text=True, env=env, timeout=120)


def explained(con, table: str, region: str, column: str):
    cur = con.cursor()  # its own temp tables, on the session's read-only connection
    try:
        return explain(cur, table, region, column)
    finally:
        cur.close()


def test_city_population_rests_on_the_counted_persons_and_their_submissions(built):
    _, con, truth = built
    e = explained(con, "b1", "330100", "population")
    assert e.traced and e.published == truth["city"]["population"]
    assert e.figures["persons"] == e.published
    # the same figures counted here from other tables: the raw submissions and persons' own flags
    submissions, eas, enumerators = con.execute("""
        select count(distinct r.submission_id), count(distinct p.ea_code), count(distinct r.enumerator_id)
        from microdata.persons as p
        inner join intermediate.int_households_resolved as r using (household_id)
        where p.is_counted""").fetchone()
    received, multi = con.execute("""
        with per_household as (
            select household_id, count(*) as n from staging.stg_landing__household_submissions
            where household_id in (select household_id from microdata.persons where is_counted)
            group by household_id)
        select sum(n), count(case when n > 1 then 1 end) from per_household""").fetchone()
    edited = con.execute(f"""
        select count(*) from microdata.persons
        where is_counted and ({" or ".join(f"{c} is not null" for c in EDIT_COLUMNS)})""").fetchone()[0]
    channels = dict(con.execute("""
        select h.channel, count(*) from microdata.persons as p
        inner join microdata.households as h using (household_id)
        where p.is_counted group by 1""").fetchall())
    f = e.figures
    assert (f["submissions"], f["eas"], f["enumerators"]) == (submissions, eas, enumerators)
    assert (f["submissions_received"], f["multi_submission_households"]) == (received, multi)
    assert multi > 0, "the generated census re-delivers some households"
    assert f["edited_or_imputed"] == edited and edited > 0
    assert {c: n for c, _, n in e.channels} == channels and set(channels) == {"pad", "self"}


def test_counties_add_up_to_the_city(built):
    _, con, _ = built
    city = explained(con, "b1", "330100", "population").figures
    counties = [explained(con, "b1", code, "population").figures for code in COUNTIES]
    for key in ["persons", "households", "submissions", "submissions_received", "multi_submission_households",
                "eas", "edited_or_imputed"]:
        assert sum(c[key] for c in counties) == city[key], key
    townships = [r[0] for r in con.execute("select region_code from bulletin.t1_township_population").fetchall()]
    true_township_counts = [explained(con, "t1", t, "population").figures["persons"] for t in townships]
    assert sum(true_township_counts) == city["persons"]  # before perturbation, townships add up too


def test_every_traced_cell_counts_exactly_the_published_value(built):
    _, con, _ = built
    checked = 0
    for table, columns in CELLS.items():
        if table.startswith("t1"):
            continue  # published after perturbation: the true counts are checked to add up above
        for region in ["330100", *COUNTIES]:
            if not con.execute(f"select 1 from bulletin.{table} where region_code = ?", [region]).fetchone():
                continue  # b8 has rows only where someone is counted
            for column in columns:
                e = explained(con, table, region, column)
                assert e.figures["persons"] == e.published, (table, region, column)
                checked += 1
    assert checked > 250


def test_a_cell_that_counts_no_persons_says_so(built):
    _, con, _ = built
    w = warehouse_of(con)
    for args, why in [(("b1", "330100", "share_of_city_pct"), "percentage"),
                      (("b1", "西湖区", "family_households"), "count of households"),
                      (("b4", "330100", "university_per_100k"), "rate"),
                      (("lf_employment", "330100", "estimate"), "weighted estimate")]:
        r = run_explain(w, *args)
        assert r.returncode == 1, (args, r.stderr)
        assert "cannot be traced to persons" in r.stdout and why in r.stdout, args
        assert "persons counted" not in r.stdout and "Traceback" not in r.stderr


def test_output_is_counts_only_no_name_or_id_number(built):
    _, con, _ = built
    w = warehouse_of(con)
    names, ids = zip(*con.execute("""
        select json_extract_string(l.name, '$'), json_extract_string(l.id_number, '$')
        from raw.person_lines as l
        where length(json_extract_string(l.name, '$')) >= 2 and length(json_extract_string(l.id_number, '$')) = 18
        order by l.submission_id, l.person_index limit 8""").fetchall(), strict=True)
    keys = [r[0] for r in con.execute("select person_key from microdata.persons limit 8").fetchall()]
    outputs = [run_explain(w, *args) for args in
               [("b1", "330100", "population"), ("b8", "330100", "foreign"), ("t1", first_township(con), "male"),
                ("b2", "西湖区", "男"), ("b6", "330106", "流动人口")]]
    for r in outputs:
        assert r.returncode == 0, r.stderr
        assert "persons counted" in r.stdout and "edited or imputed" in r.stdout
        for secret in [*names, *ids, *keys]:
            assert secret not in r.stdout + r.stderr
        assert not re.search(r"\d{17}[\dX]|[0-9a-f]{64}", r.stdout)  # no ID number, no pseudonym of any person


def first_township(con) -> str:
    return con.execute("select min(region_code) from bulletin.t1_township_population").fetchone()[0]


def test_chinese_names_and_labels_are_accepted_and_help_has_an_example(built):
    _, con, _ = built
    w = warehouse_of(con)
    by_name = explained(con, "b2", "西湖区", "男")
    by_code = explained(con, "b2_sex", "330106", "male")
    assert by_name.figures == by_code.figures and by_name.region_code == "330106"
    r = run_explain(w, "--help")
    assert r.returncode == 0 and "census explain b1 330100 population" in r.stdout
    for args in [("b9", "330100", "population"), ("b1", "330199", "population"), ("b1", "330100", "nope")]:
        r = run_explain(w, *args)
        assert r.returncode == 2 and r.stdout == "" and len(r.stderr.strip().splitlines()) == 1, args


@pytest.mark.parametrize("held_by", ["run lock", "duckdb writer"])
def test_a_warehouse_in_use_by_a_run_gives_one_line(tmp_path, held_by):
    path = tmp_path / "w.duckdb"
    duckdb.connect(str(path)).close()
    if held_by == "run lock":  # a run holds <warehouse>.lock from its first step to its last
        lock = open(str(path) + ".lock", "w")
        fcntl.flock(lock, fcntl.LOCK_EX)
        held = lock
    else:  # a step writing: DuckDB's own lock
        held = duckdb.connect(str(path))
    try:
        r = run_explain(str(path), "b1", "330100", "population")
    finally:
        held.close()
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.strip().splitlines() == [f"census explain: the warehouse {path} is in use by a run: "
                                             "try again when it has finished"]
    assert Path(str(path) + ".lock").exists() == (held_by == "run lock")
