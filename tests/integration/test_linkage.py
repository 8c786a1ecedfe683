"""Record linkage on hand-built cases: a tiny landing zone whose register and census differ in
the ways linkage must survive (typos, homophones, missing and mistyped ID numbers, twins).

The whole pipeline runs once (real ingestion, real dbt build with Splink inside it), then each
test looks at how one registrant was linked.
"""

import re
from pathlib import Path

import pytest

from census_pipeline.runner import summarise
from tests.builders import (
    EA,
    frame_row,
    hh_id,
    ident,
    materialize_into,
    person,
    submission,
    write_batch,
    write_frame,
    write_hukou_extract,
)

TOWNSHIP = EA[:9]


def transposed(valid: str) -> str:
    """The ID with two neighbouring digits of the sequence swapped (fails the check digit)."""
    s = list(valid)
    s[14], s[15] = s[15], s[14]
    return "".join(s)


CASES = {
    # name on the register, name on the census form, birth date, sequence, what the form's ID is
    "exact": ("周建华", "周建华", "1971-03-12", 101, "valid"),
    "typo": ("吴志强", "吴志刚", "1983-07-21", 103, "none"),
    "homophone": ("郑静怡", "郑婧怡", "1992-09-05", 105, "none"),
    "transposed": ("孙文博", "孙文博", "1965-12-30", 107, "transposed"),
    "twin_a": ("刘子涵", "刘子涵", "2012-05-06", 109, "none"),
    "twin_b": ("刘子轩", "刘子轩", "2012-05-06", 111, "none"),
}
NOWHERE = ("何佳琪", "1958-04-17", 113)  # registered, never counted: no link may be made


def landing_zone(root):
    subs = []
    for n, (_key, (_reg_name, form_name, born, seq, form_id)) in enumerate(CASES.items(), start=1):
        valid = ident(born, seq)
        id_number = {"valid": valid, "transposed": transposed(valid), "none": None}[form_id]
        subs.append(submission(f"l{n}", hh_id(n), [
            person(1, form_name, born=born, id_type="1" if id_number else "9", id_number=id_number, seq=None)]))
    # the twins live together: one household, both lines without ID numbers
    twins = [s for s in subs if s["persons"][0]["name"] in ("刘子涵", "刘子轩")]
    twins[0]["persons"].append({**twins[1]["persons"][0], "line_no": 2, "relationship": "2"})
    subs.remove(twins[1])
    write_batch(root / "uploads/pad/2020-11-20/batch.jsonl", subs)
    write_frame(root, [frame_row(s["household_id"]) for s in subs])
    rows = []
    for key, (reg_name, _form, born, seq, _id) in CASES.items():  # odd sequence numbers: all men
        rows.append(f"R-{key},{ident(born, seq)},{reg_name},1,{born},330106,{TOWNSHIP},某地址,1,2020-10-20")
    name, born, seq = NOWHERE
    rows.append(f"R-nowhere,{ident(born, seq)},{name},1,{born},330106,{TOWNSHIP},某地址,1,2020-10-20")
    write_hukou_extract(root, "2020-10-20", rows)
    # the post-enumeration survey re-enumerates the EA: the same people, found its own way
    pes_people = {  # PES household: [(name, born, seq, the PES's ID)]
        1: [("周建华", "1971-03-12", 101, "valid")],  # valid ID, as the census: an ID match
        2: [("吴志刚", "1983-07-21", 103, "none")],  # no ID on either side: probabilistic
        4: [("孙文博", "1965-12-30", 107, "valid")],  # valid here, transposed on the census: probabilistic
        5: [("刘子涵", "2012-05-06", 109, "none"), ("刘子轩", "2012-05-06", 111, "none")],  # twins, no IDs
        9: [("何佳琪", "1958-04-17", 113, "valid")],  # the census missed her: no match
    }
    pes = []
    for n, members in pes_people.items():
        lines = [person(i, name, born=born, seq=None, id_type="1" if kind == "valid" else "9",
                        id_number=ident(born, seq) if kind == "valid" else None, rel="0" if i == 1 else "2")
                 for i, (name, born, seq, kind) in enumerate(members, start=1)]
        pes.append(submission(f"pes-{n}", hh_id(n), lines, channel="pes", at="2020-12-05T10:00:00+08:00"))
    write_batch(root / "pes/2020-12-05/pes-batch.jsonl", pes)


@pytest.fixture(scope="module")
def links(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("linkage")
    landing_zone(tmp / "landing")
    result, con = materialize_into(tmp / "landing", tmp)
    # seven men of one township are no census: the microdata gates (sex ratio, age mix) may stop
    # the bulletin, but the microdata build, linkage included, must have succeeded
    assert "census_microdata_models" not in summarise(result)["steps_failed"], summarise(result)
    rows = con.execute("""
        select l.person_no, l.link_method, l.household_id, c.name, l.needs_clerical_review
        from intermediate.int_register_links as l
        left join intermediate.int_linkage_census as c on c.record_id = l.census_record_id
    """).fetchall()
    pes = con.execute("""
        select split_part(m.pes_record_id, ':', 1), m.match_method, m.census_household_id, p.name, c.name
        from quality.pes_matches as m
        inner join intermediate.int_pes_persons as p on p.record_id = m.pes_record_id
        left join (select person_no as pes_record_id, census_record_id from intermediate.int_pes_id_matches
                   union all select pes_record_id, census_record_id from intermediate.int_pes_probabilistic) as x
            on x.pes_record_id = m.pes_record_id
        left join intermediate.int_linkage_census as c on c.record_id = x.census_record_id
        order by m.pes_record_id""").fetchall()
    yield {r[0].removeprefix("R-"): r[1:] for r in rows} | {"pes": pes}
    con.close()


def test_exact_id_match_links_deterministically(links):
    assert links["exact"][:3] == ("id", hh_id(1), "周建华")


def test_name_typo_without_id_links_probabilistically(links):
    assert links["typo"][:3] == ("probabilistic", hh_id(2), "吴志刚")


def test_homophone_without_id_links_probabilistically(links):
    assert links["homophone"][:3] == ("probabilistic", hh_id(3), "郑婧怡")


def test_transposed_id_digit_links_probabilistically(links):
    assert links["transposed"][:3] == ("probabilistic", hh_id(4), "孙文博")


def test_twins_with_the_same_birthday_are_not_merged(links):
    assert links["twin_a"][:3] == ("probabilistic", hh_id(5), "刘子涵")
    assert links["twin_b"][:3] == ("probabilistic", hh_id(5), "刘子轩")


def test_registrant_found_nowhere_is_not_linked(links):
    assert links["nowhere"][0] == "none"


# -- on a generated census: the generator's truth knows which records are the same person ----------


def quality(con) -> dict:
    cur = con.execute("select * from linkage.linkage_quality")
    cols = [d[0] for d in cur.description]
    return {r[0]: dict(zip(cols, r, strict=True)) for r in cur.fetchall()}


def test_linkage_precision_and_recall_meet_the_targets(built):
    _, con, _ = built
    q = quality(con)
    residue, whole = q["probabilistic (residue)"], q["whole census"]
    assert residue["truth_available"] and residue["true_pairs"] > 0
    assert residue["precision_pct"] >= 99.9 and residue["recall_pct"] >= 99.5, residue
    assert whole["precision_pct"] >= 99.99 and whole["recall_pct"] >= 99.99, whole
    assert whole["false_links_unflagged"] == 0  # twins and other near-misses never merged unflagged


def test_registrants_left_unlinked_are_exactly_the_planted_omissions(built):
    _, con, _ = built
    unlinked = set(con.execute("select person_no from intermediate.int_register_links where link_method = 'none'"
                               ).fetchall())
    planted = set(con.execute("""
        select r.record_id from intermediate.int_linkage_register as r
        where not exists (
            select 1 from raw.linkage_truth as h
            inner join raw.linkage_truth as c on c.person = h.person and c.record_type = 'census'
            inner join intermediate.int_linkage_census as k on k.record_id = c.record_key
            where h.record_type = 'hukou' and h.record_key = r.record_id)
    """).fetchall())
    assert planted and unlinked == planted


def test_linkage_audit_lists_every_active_record_and_its_true_census_line(built):
    """linkage_audit.register_links (outputs.md) against the raw register, the raw person lines
    and the generator's truth: every active record once, no inactive one, each link naming the
    person entry (submission_id, the entry's own line_no) that is the same person."""
    _, con, _ = built
    audit = {r[0]: r[1:] for r in con.execute(
        "select person_no, submission_id, line_no, method, match_probability, clerical_review, person_index "
        "from linkage_audit.register_links").fetchall()}
    status = dict(con.execute("select person_no, trim(status) from raw.hukou_register").fetchall())
    active = {p for p, s in status.items() if s == "1"}
    assert active and len(active) < len(status)  # moved-out and deceased records are planted too
    assert con.execute("select count(*) from linkage_audit.register_links").fetchone()[0] == len(active)
    assert set(audit) == active
    linked = {p: row for p, row in audit.items() if row[2] != "none"}
    assert linked and all(row[0] is not None and row[1] is not None for row in linked.values())
    assert all(row[0] is None and row[1] is None and row[5] is None for p, row in audit.items() if p not in linked)
    assert all(row[3] >= 0.99 for row in linked.values() if row[2] == "probabilistic")  # docs/linkage.md
    # the line_no is the entry's own key in the uploaded persons[] array, at the linked position
    raw_line_no = dict(((s, i), n) for s, i, n in con.execute(
        "select submission_id, person_index, cast(line_no as bigint) from raw.person_lines").fetchall())
    assert all(raw_line_no.get((row[0], row[5]), "absent") == row[1] for row in linked.values())
    # the linked line is the registrant's own census line, as often as linkage_quality says
    truth = con.execute("select record_type, record_key, person from raw.linkage_truth").fetchall()
    person_of_record = {key: who for kind, key, who in truth if kind == "hukou"}
    lines_of_person = {}
    for kind, key, who in truth:
        if kind == "census":
            lines_of_person.setdefault(who, set()).add(key)
    true_links = sum(f"{row[0]}:{row[5]}" in lines_of_person.get(person_of_record.get(p), ())
                     for p, row in linked.items())
    q = quality(con)
    methods = [row[2] for row in audit.values()]
    assert methods.count("id") == q["deterministic (valid ID)"]["links"] > 0
    assert methods.count("probabilistic") == q["probabilistic (residue)"]["links"] > 0
    assert len(linked) == q["whole census"]["links"] and true_links == q["whole census"]["true_links"]
    assert true_links >= 0.999 * len(linked)
    reviews = con.execute("select count(*) from quality.follow_up where case_type = 'linkage_clerical_review'"
                          ).fetchone()[0]
    assert sum(row[4] for row in audit.values()) == reviews


def test_linkage_audit_is_never_published(built):
    _, con, _ = built
    warehouse = con.execute("select path from duckdb_databases() where database_name = current_database()"
                            ).fetchone()[0]
    published = [p for p in (Path(warehouse).parent / "out").rglob("*") if p.is_file()]
    assert any(p.suffix == ".csv" for p in published)
    register_key = re.compile(r"P\d{9}")  # the generator's person_no: P<county><7 digits>
    assert register_key.fullmatch(con.execute("select min(person_no) from linkage_audit.register_links"
                                              ).fetchone()[0])
    for path in published:
        assert "register_links" not in path.name and "linkage_audit" not in str(path), path
        if path.suffix in (".csv", ".html", ".json", ".md", ".txt", ".log"):
            assert not register_key.search(path.read_text(encoding="utf-8", errors="replace")), path


def test_linkage_outputs_hold_no_names_or_ids(built):
    _, con, _ = built
    for table in ("linkage_quality", "hukou_coverage"):
        cols = {c[0] for c in con.execute(f"describe linkage.{table}").fetchall()}
        assert not cols & {"name", "person_name", "id_number", "person_no", "census_record_id"}, table


def test_pes_persons_match_by_id_then_probabilistically_and_the_missed_stay_unmatched(links):
    got = [(sub, method, household) for sub, method, household, _, _ in links["pes"]]
    assert got == [
        ("pes-1", "id", hh_id(1)),
        ("pes-2", "probabilistic", hh_id(2)),
        ("pes-4", "probabilistic", hh_id(4)),
        ("pes-5", "probabilistic", hh_id(5)),
        ("pes-5", "probabilistic", hh_id(5)),
        ("pes-9", "none", None),
    ]
    twins = [(pes_name, census_name) for sub, _, _, pes_name, census_name in links["pes"] if sub == "pes-5"]
    assert sorted(twins) == [("刘子涵", "刘子涵"), ("刘子轩", "刘子轩")]  # each twin to their own record
