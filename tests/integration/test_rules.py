"""Every rule of rules.md on a tiny hand-written landing zone: one household per rule
(tests/builders.py, rules_landing_zone: read it beside these tests).

The whole pipeline runs once (real ingestion, real dbt build) and each test asserts the
outcome the contract prescribes for its household.
"""

import pytest

from census_pipeline.runner import summarise
from tests.builders import DUP, EA2, EA_UNLISTED_VILLAGE, hh_id, materialize_into, rules_landing_zone


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rules")
    rules_landing_zone(tmp / "landing")
    result, con = materialize_into(tmp / "landing", tmp)
    assert summarise(result)["ok"], summarise(result)
    yield con
    con.close()


def people(con, household: str) -> dict[int, dict]:
    cur = con.execute("select * from microdata.persons where household_id = ? order by person_index", [household])
    cols = [d[0] for d in cur.description]
    return {r[cols.index("person_index")]: dict(zip(cols, r, strict=True)) for r in cur.fetchall()}


def test_supersession_long_final_wins(warehouse):
    assert len(people(warehouse, hh_id(1))) == 2
    row = warehouse.execute("select submission_status, is_long_form from microdata.households where household_id = ?",
                            [hh_id(1)]).fetchone()
    assert row == ("final", True)


def test_no_final_submission_counts_and_is_followed_up(warehouse):
    assert people(warehouse, hh_id(2))[1]["is_counted"]
    assert warehouse.execute("select count(*) from quality.follow_up where case_type = 'no_final_submission' "
                             "and household_id = ?", [hh_id(2)]).fetchone()[0] == 1


def test_age_and_standard_time(warehouse):
    p = people(warehouse, hh_id(3))
    assert (p[1]["age"], p[2]["age"], p[3]["age"]) == (34, 35, 0)
    assert [p[i]["is_counted"] for i in range(1, 6)] == [True, True, True, False, False]
    assert p[4]["count_rule"] == p[5]["count_rule"] == "born_after_standard_time"


def test_valid_id_outranks_the_form(warehouse):
    p = people(warehouse, hh_id(4))[1]
    assert (p["sex"], p["sex_original"], p["sex_edit_rule"]) == ("1", "2", "P01_sex_from_id")
    assert (p["birth_year"], p["birth_month"], p["birth_edit_rule"]) == (1975, 6, "P02_birth_from_id")
    assert (p["birth_year_original"], p["birth_month_original"]) == (1976, 1)


def test_same_id_different_names_second_line_invalid(warehouse):
    p = people(warehouse, hh_id(5))
    assert (p[1]["has_valid_id"], p[2]["has_valid_id"]) == (True, False)
    assert p[1]["is_counted"] and p[2]["is_counted"]


def test_resident_rule_clauses(warehouse):
    p = people(warehouse, hh_id(6))
    assert [p[i]["is_counted"] for i in range(1, 7)] == [True, False, True, False, True, False]
    assert p[2]["count_rule"] == "lives_here_less_than_6m_counts_at_hukou_place"
    assert p[3]["count_rule"] == "registered_here_abroad_work_or_study"
    assert p[5]["count_rule_flagged"] and p[6]["count_rule"] == "hk_macao_taiwan_or_foreign"


def test_duplicate_keeps_the_later_submission_and_records_the_loser(warehouse):
    first, second = people(warehouse, hh_id(7))[2], people(warehouse, hh_id(8))[2]
    assert (first["is_counted"], first["is_duplicate_removed"]) == (False, True)
    assert (second["is_counted"], second["is_duplicate_removed"]) == (True, False)
    assert first["person_key"] == second["person_key"]
    assert warehouse.execute("select removed_household_id, kept_household_id from intermediate.int_duplicates_resolved "
                             "where id_number = ?", [DUP]).fetchall() == [(hh_id(7), hh_id(8))]


def test_two_records_none_counting_the_residence_1_record_counts(warehouse):
    away, here = people(warehouse, hh_id(9))[2], people(warehouse, hh_id(10))[2]
    assert not away["is_counted"] and here["is_counted"] and here["counted_as_only_residence_record"]
    assert warehouse.execute("select household_id from quality.follow_up where case_type = 'duplicate_none_counted'"
                             ).fetchall() == [(hh_id(10),)]


def test_omissions_on_the_follow_up_list(warehouse):
    cases = set(warehouse.execute("select case_type, household_id from quality.follow_up").fetchall())
    assert ("missing_household", hh_id(11)) in cases and ("missing_household", hh_id(1, EA2)) in cases
    assert ("fewer_person_lines_than_h3", hh_id(12)) in cases
    registrants = warehouse.execute("select detail from quality.follow_up where case_type = 'register_person_not_found'"
                                    ).fetchall()
    assert len(registrants) == 1 and "330106001" in registrants[0][0]  # R3 only: R1, R2 found; R4 moved out
    row = warehouse.execute("select missing_households, register_persons_not_found, duplicates_removed "
                            "from quality.coverage where region_code = '330106'").fetchone()
    assert row == (2, 1, 1)


def test_edits_change_as_few_fields_as_possible(warehouse):
    p = people(warehouse, hh_id(13))
    assert (p[1]["relationship"], p[1]["relationship_edit_rule"]) == ("0", "E01_no_head")
    assert (p[2]["relationship"], p[2]["relationship_edit_rule"], p[2]["age"]) == ("9", "E03_spouse_under_18", 15)
    assert (p[3]["relationship"], p[3]["relationship_edit_rule"]) == ("9", "E04_child_too_old")
    assert (p[3]["literate"], p[3]["literate_original"], p[3]["literate_edit_rule"]) == (
        "1", "2", "E12_illiterate_with_schooling")
    assert p[4]["education_edit_rule"] == "E08_education_above_age" and int(p[4]["education"]) <= 3
    assert p[4]["education_original"] == "9"
    assert p[5]["education_edit_rule"] == "E09_education_missing" and p[5]["education"] is not None
    assert p[1]["ethnicity_edit_rule"] == "E13_ethnicity_missing" and p[1]["ethnicity"] is not None
    assert all(p[i]["sex"] == p[i]["sex_original"] for i in p)  # no edit touched a sex


def test_household_type_and_urban_rural_class(warehouse):
    rows = dict(warehouse.execute("select household_id, household_type || '/' || urban_rural_code || '/' "
                                  "|| urban_rural_defaulted from microdata.households").fetchall())
    assert rows[hh_id(15)] == "2/111/false"
    assert rows[hh_id(1, EA2[:-3] + "009")] == "1/111/false"
    assert rows[hh_id(1, EA_UNLISTED_VILLAGE)] == "1/220/true"
