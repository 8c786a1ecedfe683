"""Every rule of rules.md on a tiny hand-written landing zone: one household per rule.

The whole pipeline runs once (real ingestion, real dbt build) and each test asserts the
outcome the contract prescribes for its household.
"""

import datetime as dt
import json

import pytest

from census_pipeline.lib import idnumber
from census_pipeline.runner import summarise
from tests.conftest import materialize_into

EA = "330106001001001"  # 西湖区, township 330106001, village 330106001001
EA2 = "330106001001002"  # listed too
EA_UNLISTED_VILLAGE = "330106001002001"  # its village has no listed EA: rural, flagged


def ident(born: str, seq: int, area: str = "330106") -> str:
    return idnumber.make(area, dt.date.fromisoformat(born), seq)


def person(line_no, name, rel="0", sex="1", born="1980-05-01", seq=None, id_type="1", id_number=None, **items):
    p = {"line_no": line_no, "name": name, "relationship": rel, "id_type": id_type,
         "id_number": id_number if id_number is not None else (ident(born, seq) if seq is not None else None),
         "sex": sex, "birth_ym": born[:7], "ethnicity": "01", "residence": "1", "hukou_place": "1",
         "hukou_region_code": None, "left_hukou_duration": "1", "left_hukou_reason": None,
         "education": "5", "literate": "1", "long": None}
    p.update(items)
    return p


def submission(sid, hh, persons, *, status="final", form="short", at="2020-11-03T10:00:00+08:00", ea=EA,
               channel="pad", htype="1", **extra):
    resident = sum(1 for p in persons if p.get("residence") == "1")
    s = {"submission_id": sid, "channel": channel, "form": form, "status": status, "submitted_at": at,
         "enumerator_id": None if channel == "self" else "E330106001001001", "device_id": None,
         "household_id": hh, "ea_code": ea, "household_type": htype, "address": "某路1号",
         "h_resident_count": resident, "h_hukou_absent_count": len(persons) - resident,
         "h_births_male": 0, "h_births_female": 0, "h_deaths_male": 0, "h_deaths_female": 0,
         "persons": persons, "deaths": []}
    s.update(extra)
    return s


def hh_id(n: int, ea: str = EA) -> str:
    return f"H{ea}{n:04d}"


DUP = ident("1970-03-03", 11)  # a person counted in two households
NONE_COUNTS = ident("1990-04-04", 21)  # a person with two records, neither counting by the rule


def landing_zone(root):
    subs = [
        # 1 supersession: the long final outranks a later short final and a later partial
        submission("s1-long", hh_id(1), [person(1, "甲一", seq=1), person(2, "甲二", rel="1", sex="2", seq=2)],
                   form="long", at="2020-11-02T10:00:00+08:00"),
        submission("s1-short", hh_id(1), [person(1, "甲一", seq=1)], at="2020-11-10T10:00:00+08:00"),
        submission("s1-partial", hh_id(1), [person(1, "甲一", seq=1)], status="partial", channel="self",
                   at="2020-11-20T10:00:00+08:00"),
        # 2 no final submission: the pre-registration counts, flagged, on the follow-up list
        submission("s2-pre", hh_id(2), [person(1, "乙一", seq=3)], status="pre_registration",
                   at="2020-10-20T10:00:00+08:00"),
        # 3 standard time and age
        submission("s3", hh_id(3), [
            person(1, "丙一", born="1985-11-01", seq=5),  # 1 November birthday not yet come: 34
            person(2, "丙二", rel="1", sex="2", born="1985-10-31", seq=6),  # 35
            person(3, "丙三", rel="2", born="2020-10-31", seq=7, education=None, literate=None),  # 0, counted
            person(4, "丙四", rel="2", sex="2", born="2020-11-01", seq=8, education=None, literate=None),  # not counted
            person(5, "丙五", rel="2", born="2020-11-01", id_type="9", id_number=None,
                   education=None, literate=None),  # birth month 2020-11 without ID: not counted
        ], at="2020-11-06T10:00:00+08:00"),
        # 4 item precedence: the valid ID outranks the form's sex and birth month
        submission("s4", hh_id(4), [person(1, "丁一", sex="2", born="1975-06-15", seq=9,
                                           birth_ym="1976-01")]),
        # 5 the same ID on two lines with different names: the second line's ID is invalid
        submission("s5", hh_id(5), [person(1, "戊一", seq=13), person(2, "戊二", rel="8", seq=13)]),
        # 6 the resident rule's clauses
        submission("s6", hh_id(6), [
            person(1, "己一", seq=15),  # lives here, hukou here
            person(2, "己二", rel="8", seq=17, hukou_place="4", hukou_region_code="341221",
                   left_hukou_duration="2", left_hukou_reason="1"),  # here < 6 months: counts at hukou place
            person(3, "己三", rel="2", seq=19, residence="6", left_hukou_duration="4",
                   left_hukou_reason="2"),  # studying abroad: counts here
            person(4, "己四", rel="2", seq=23, residence="5", left_hukou_duration="5",
                   left_hukou_reason="1"),  # working in another county: not here
            person(5, "己五", rel="9", seq=25, hukou_place="3", left_hukou_duration=None),  # contradictory: counted
            person(6, "己六", rel="9", id_type="3", id_number="E12345678", seq=None),  # foreigner: not resident pop
        ]),
        # 7 duplicates: counted in two households, the later submission's record survives
        submission("s7", hh_id(7), [person(1, "庚一", seq=27), person(2, "庚二", rel="3", id_number=DUP)],
                   at="2020-11-03T10:00:00+08:00"),
        submission("s8", hh_id(8), [person(1, "辛一", seq=29), person(2, "庚二", rel="3", id_number=DUP)],
                   at="2020-11-05T10:00:00+08:00"),
        # 8 two records, neither counts: the residence-1 record counts, for follow-up
        submission("s9", hh_id(9), [person(1, "壬一", seq=31),
                                    person(2, "壬二", rel="2", id_number=NONE_COUNTS, residence="5",
                                           left_hukou_duration="4", left_hukou_reason="1")]),
        submission("s10", hh_id(10), [person(1, "癸一", seq=33),
                                      person(2, "壬二", rel="9", id_number=NONE_COUNTS, hukou_place="4",
                                             hukou_region_code="330109", left_hukou_duration="2",
                                             left_hukou_reason="1")]),
        # 9 omissions: H3 says 3 living here, 2 lines
        submission("s12", hh_id(12), [person(1, "子一", seq=35), person(2, "子二", rel="1", sex="2", seq=36)],
                   h_resident_count=3),
        # 10 edits: no head, spouse under 18, child too old, education too high, illiterate with schooling,
        #    education and ethnicity missing
        submission("s13", hh_id(13), [
            person(1, "丑一", rel="1", born="1960-01-01", seq=37, ethnicity=None),
            person(2, "丑二", rel="1", sex="2", born="2005-01-01", seq=38),  # spouse aged 15
            person(3, "丑三", rel="2", born="1968-01-01", seq=39, literate="2", education="7"),  # child 8 years younger
            person(4, "丑四", rel="2", born="2010-03-01", seq=41, education="9", literate=None),  # 10 with a doctorate
            person(5, "丑五", rel="2", sex="2", born="1990-03-01", seq=42, education=None),  # missing at 30
        ]),
        # donors for the imputations above
        submission("s14", hh_id(14), [person(1, "寅一", born="1990-07-01", seq=43, education="6"),
                                      person(2, "寅二", rel="2", born="2010-07-01", seq=45, education="3",
                                             literate=None),
                                      person(3, "寅三", rel="1", sex="2", born="1991-07-01", seq=46,
                                             education="7", ethnicity="22")]),
        # 11 household type outside its list: taken from the listing frame (2)
        submission("s15", hh_id(15), [person(1, "卯一", seq=47)], htype="3"),
        # 12 an EA not in the frame: its village's class; a village with no listed EA: rural, flagged
        submission("s16", hh_id(1, EA2[:-3] + "009"), [person(1, "辰一", seq=49)], ea=EA2[:-3] + "009"),
        submission("s17", hh_id(1, EA_UNLISTED_VILLAGE), [person(1, "巳一", seq=51)], ea=EA_UNLISTED_VILLAGE),
    ]
    day = root / "uploads/pad/2020-11-20"
    day.mkdir(parents=True)
    (day / "batch.jsonl").write_text("\n".join(json.dumps(s, ensure_ascii=False) for s in subs) + "\n",
                                     encoding="utf-8")
    (root / "frame").mkdir()
    listed = [hh_id(n) for n in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14)]
    rows = [f"{h},{EA},111,某路1号,1,2,2020-10-20" for h in listed]
    rows.append(f"{hh_id(15)},{EA},111,某宿舍,2,1,2020-10-20")
    rows.append(f"{hh_id(1, EA2)},{EA2},112,某路2号,1,2,2020-10-20")
    (root / "frame/listing.csv").write_text(
        "household_id,ea_code,urban_rural_code,address,household_type,expected_persons,listed_on\n"
        + "\n".join(rows) + "\n", encoding="utf-8")
    (root / "admin/hukou").mkdir(parents=True)
    head = "person_no,id_number,name,sex,birth_date,hukou_region_code,hukou_township_code,hukou_address,status,extracted_on\n"
    reg = [
        f"R1,{ident('1980-05-01', 1)},甲一,1,1980-05-01,330106,330106001,某地址,1,2020-10-20",  # found by ID
        "R2,33010619800501999X,乙一,1,1980-05-01,330106,330106001,某地址,1,2020-10-20",  # wrong ID, found by name
        f"R3,{ident('1950-02-02', 61)},午一,2,1950-02-02,330106,330106001,某地址,1,2020-10-20",  # nowhere: omission
        f"R4,{ident('1950-02-02', 63)},未一,1,1950-02-02,330106,330106001,某地址,1,2020-10-20",  # moved out later
    ]
    (root / "admin/hukou/extract_2020-10-20.csv").write_text(head + "\n".join(reg) + "\n", encoding="utf-8")
    (root / "admin/hukou/extract_2020-11-20.csv").write_text(
        head + f"R4,{ident('1950-02-02', 63)},未一,1,1950-02-02,330106,330106001,某地址,2,2020-11-20\n",
        encoding="utf-8")


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rules")
    landing_zone(tmp / "landing")
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
