"""The microdata stage on a generated census: every figure the generator knows, and no leak."""

import hashlib
import hmac
import os

import dagster as dg

from census_pipeline.runner import summarise

ANALYSIS_SCHEMAS = ("microdata", "quality", "linkage", "bulletin")


def test_run_succeeds_with_every_dbt_test_green(built):
    result, _, _ = built
    summary = summarise(result)
    assert summary["ok"], summary
    assert not summary["checks_failed"]
    assert summary["checks_passed"] >= 30  # dbt tests on every model appear as asset checks


def test_counted_persons_per_county_and_sex_equal_the_truth(built):
    _, con, truth = built
    got = {(c, s): n for c, s, n in con.execute(
        "select county_code, sex, count(*) from microdata.persons where is_counted group by all").fetchall()}
    want = {}
    for county, v in truth["county"].items():
        if v.get("male"):
            want[(county, "1")] = v["male"]
        if v.get("female"):
            want[(county, "2")] = v["female"]
    assert got == want


def test_coverage_equals_the_truth_for_every_county_and_the_city(built):
    _, con, truth = built
    cols = ["listed_households", "enumerated_households", "missing_households", "persons_counted",
            "duplicates_removed", "register_persons_not_found"]
    rows = {r[0]: dict(zip(cols, r[1:], strict=True)) for r in con.execute(
        f"select region_code, {', '.join(cols)} from quality.coverage").fetchall()}
    truth_key = {"persons_counted": "population"}
    for county, v in truth["county"].items():
        assert rows[county] == {c: v.get(truth_key.get(c, c), 0) for c in cols}, county
    assert rows["330100"]["persons_counted"] == truth["city"]["population"]
    assert truth["city"]["duplicates_removed"] > 0 and truth["city"]["register_persons_not_found"] > 0


def test_follow_up_cases_equal_the_truth(built):
    _, con, truth = built
    got = dict(con.execute("select case_type, count(*) from quality.follow_up "
                           "where case_type <> 'linkage_clerical_review' group by all").fetchall())
    assert got == truth["follow_up"]
    reviews = con.execute("select count(*) from intermediate.int_register_links where needs_clerical_review").fetchone()
    assert con.execute("select count(*) from quality.follow_up where case_type = 'linkage_clerical_review'"
                       ).fetchone() == reviews
    assert con.execute("select count(*) from quality.follow_up where case_type = 'missing_household' "
                       "and enumerator_id is null").fetchone()[0] < got["missing_household"]


def test_duplicates_table_records_each_removed_record_and_its_winner(built):
    _, con, truth = built
    n, distinct_ids, same = con.execute("""
        select count(*), count(distinct id_number),
               count(*) filter (where removed_submission_id = kept_submission_id)
        from intermediate.int_duplicates_resolved""").fetchone()
    assert n == truth["city"]["duplicates_removed"] == distinct_ids and same == 0


def test_no_name_or_id_number_in_any_analysis_table(built):
    """Every text value of every analysis table: not a name or ID number of the census, no
    ID-number-shaped string inside it, and no name inside free text (detail columns)."""
    _, con, _ = built
    con.execute("create temp table secrets as select distinct v from ("
                "select id_number as v from staging.stg_landing__person_lines where length(id_number) >= 15 "
                "union all select person_name from staging.stg_landing__person_lines where length(person_name) >= 2)")
    tables = con.execute("select table_schema, table_name from information_schema.tables "
                         f"where table_schema in {ANALYSIS_SCHEMAS}").fetchall()
    assert len(tables) >= 4
    leaks = []
    for schema, table in tables:
        cols = [c[0] for c in con.execute(f"describe {schema}.{table}").fetchall() if c[1] == "VARCHAR"]
        for c in cols:
            t = f"{schema}.{table}"
            equal = con.execute(f"select count(*) from {t} where {c} in (select v from secrets)").fetchone()[0]
            shaped = con.execute(f"select count(*) from {t} where regexp_matches({c}, '(^|[^0-9a-f])[1-9][0-9]{{5}}(19|20)[0-9]{{9}}[0-9X]([^0-9a-f]|$)')"
                                 ).fetchone()[0]
            free_text = con.execute(f"select coalesce(max(length({c})), 0) > 40 from {t}").fetchone()[0]
            inside = con.execute(f"select count(*) from {t} x join secrets s on contains(x.{c}, s.v) "
                                 "where length(s.v) < 15").fetchone()[0] if free_text else 0
            if equal or shaped or inside:
                leaks.append((t, c, equal, shaped, inside))
    assert not leaks


def test_person_key_is_the_keyed_hmac_of_the_id_number(built):
    _, con, _ = built
    key = os.environ["CENSUS_PSEUDONYM_KEY"].encode()
    rows = con.execute("""
        select p.person_key, s.id_number from microdata.persons p
        join staging.stg_landing__person_lines s
          on s.submission_id || ':' || s.person_index = (
              select uid from intermediate.int_persons_edited e
              where e.household_id = p.household_id and e.person_index = p.person_index)
        where p.has_valid_id limit 20""").fetchall()
    assert rows
    for person_key, id_number in rows:
        assert person_key == hmac.new(key, f"id:{id_number}".encode(), hashlib.sha256).hexdigest()
        assert person_key != hashlib.sha256(f"id:{id_number}".encode()).hexdigest()


def test_every_edit_flag_names_a_rule_of_the_rule_set(built):
    _, con, _ = built
    rules = {r[0] for r in con.execute("select rule_id from codes.edit_rules").fetchall()}
    used = {r[0] for r in con.execute("""
        select distinct unnest([sex_edit_rule, birth_edit_rule, relationship_edit_rule, ethnicity_edit_rule,
                                education_edit_rule, literate_edit_rule, hukou_flag_rule])
        from microdata.persons""").fetchall()} - {None}
    assert used and used <= rules


def test_imputation_rates_are_asset_metadata(built):
    result, _, _ = built
    mats = [e.event_specific_data.materialization for e in result.all_events
            if e.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION]
    persons = next(m for m in mats if m.asset_key.path == ["microdata", "persons"])
    assert "edits_and_imputation" in persons.metadata
    assert any(k.startswith("edit_rate_pct/") for k in persons.metadata)
    assert persons.metadata["dagster/row_count"].value > 0


def test_births_and_deaths_comparisons_equal_the_truth(built):
    _, con, truth = built
    births = {r[0]: r[1:] for r in con.execute(
        "select region_code, register_births, census_births, h4_births from linkage.births_comparison").fetchall()}
    deaths = {r[0]: r[1:] for r in con.execute(
        "select region_code, register_deaths, census_death_forms, h5_deaths from linkage.deaths_comparison").fetchall()}
    for county, v in truth["county"].items():
        assert births[county] == (v.get("register_births", 0), v.get("census_births", 0), v.get("h4_births", 0)), county
        assert deaths[county] == (v.get("register_deaths", 0), v.get("census_death_forms", 0), v.get("h5_deaths", 0))
    assert births["330100"][0] > 0 and deaths["330100"][0] > 0


def test_hukou_coverage_agrees_with_the_omission_truth(built):
    _, con, truth = built
    rows = dict(con.execute("select region_code, not_found from linkage.hukou_coverage where level = 'county'").fetchall())
    for county, v in truth["county"].items():
        assert rows.get(county, 0) == v.get("register_persons_not_found", 0), county
    bad = con.execute("select count(*) from linkage.hukou_coverage "
                      "where found_counted_here + found_elsewhere + not_found <> active_registrants").fetchone()[0]
    assert bad == 0
