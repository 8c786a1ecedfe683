"""The linkage model's training in SQL (census_pipeline/lib/linkage.py): u counted exactly from
value frequencies must equal each level's share of the full register x census cross product,
enumerated pair by pair with the levels' own conditions; m must be each level's share of the
labelled pairs, worked by hand."""

import duckdb
import pytest

from census_pipeline.lib.linkage import COLUMNS, estimate_m, estimate_u, settings

# record_id, name, pinyin, sex, birth date (None: only the month is known), birth month,
# township, ID number, valid
REGISTER = [
    ("r1", "郑静怡", "zheng jing yi", "2", "1992-09-05", 199209, "330106001", "330106199209050021", True),
    ("r2", "吴志强", "wu zhi qiang", "1", "1983-07-21", 198307, "330106001", "330106198307210011", True),
    ("r3", "刘艳", "liu yan", "2", "1974-12-12", 197412, "330106002", "330106197412120020", True),
    ("r4", "刘子涵", "liu zi han", "1", "2012-05-06", 201205, "330108001", "330108201205060031", True),
    ("r5", "周建华", "zhou jian hua", "1", "1971-03-12", 197103, "330108001", None, None),
]
CENSUS = [
    ("c1", "郑婧怡", "zheng jing yi", "2", None, 199209, "330106001", None, None),  # homophone, month only
    ("c2", "吴志刚", "wu zhi gang", "1", "1983-07-02", 198307, "330106002", "H7219756", False),  # one char
    ("c3", "刘燕", "liu yan", "2", None, 197412, "330108001", None, None),  # homophone, 2 characters
    ("c4", "刘艳", "liu yan", "2", "1974-12-12", 197412, "330106002", "330106197412120020", True),
    ("c5", "刘子轩", "liu zi xuan", "1", "2012-05-06", 201205, "330108001", None, None),
    ("c6", "刘丽", "liu li", "2", "1974-12-30", 197412, "330106001", "330106197412300028", True),
    ("c7", "周建华", "zhou jian hua", None, "1971-03-12", 197103, None, "330108197103120019", True),
]


def _mask(name: str, k: int) -> str:  # the name with its k-th character replaced (past its end: appended)
    return name[:k - 1] + "*" + name[k:] if k <= len(name) else name + "*"


def _table(con, table: str, rows) -> None:
    con.execute(f"""create table {table} (record_id varchar, name varchar, surname varchar, name_length bigint,
                    name_mask2 varchar, name_mask3 varchar, name_mask4 varchar, name_pinyin varchar, sex varchar,
                    birth_date date, birth_ym bigint, township_code varchar, county_code varchar,
                    id_number varchar, id_valid boolean)""")
    for rid, name, pinyin, sex, born, ym, township, id_number, valid in rows:
        con.execute(f"insert into {table} values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [rid, name, name[0], len(name), _mask(name, 2), _mask(name, 3), _mask(name, 4), pinyin, sex,
                     born, ym, township, township and township[:6], id_number, valid])


@pytest.fixture
def con():
    con = duckdb.connect()
    _table(con, "register", REGISTER)
    _table(con, "census", CENSUS)
    yield con
    con.close()


def _shares_by_enumeration(con, comparison) -> dict[str, float]:
    """Each non-null level's share of all register x census pairs, pair by pair (a cross join)."""
    cols = [c.strip() for c in COLUMNS.split(",")]
    sides = ", ".join(f'l.{c} as "{c}_l", r.{c} as "{c}_r"' for c in cols)
    levels = comparison["comparison_levels"]
    case = "case " + " ".join(f"when {lv['sql_condition']} then '{lv['label_for_charts']}'"
                              for lv in levels if lv["sql_condition"] != "else") + f" else '{levels[-1]['label_for_charts']}' end"
    rows = con.execute(f"select {case}, count(*) from (select {sides} from register as l cross join census as r) "
                       "group by all").fetchall()
    counts = {label: n for label, n in rows if label != "null"}
    return {label: n / sum(counts.values()) for label, n in counts.items()}


def test_u_is_each_levels_share_of_all_pairs(con):
    model = settings()
    id_linked = 1  # r3 and c4 share a valid ID number
    estimate_u(con, model, "register", "census", id_linked)
    for comparison in model["comparisons"]:
        expected = _shares_by_enumeration(con, comparison)
        for level in comparison["comparison_levels"]:
            label = level["label_for_charts"]
            if level.get("is_null_level") or (comparison["output_column_name"], label) in {
                    ("birth", "same month, a date unknown"), ("id_number", "one edit apart")}:
                continue
            assert level["u_probability"] == pytest.approx(expected.get(label, 0.0) or 1 / 35, abs=1e-12), \
                (comparison["output_column_name"], label)


def test_a_date_unknown_counts_as_the_chance_of_the_same_birth_month(con):
    model = settings()
    estimate_u(con, model, "register", "census", 1)
    birth = {lv["label_for_charts"]: lv for lv in model["comparisons"][2]["comparison_levels"]}
    # 5 x 7 pairs with a month on both sides; same month: r1-c1, r2-c2, r3-c3/c4/c6, r4-c5, r5-c7
    assert birth["same month, a date unknown"]["u_probability"] == pytest.approx(7 / 35)
    # so knowing only the month weighs less than knowing the same date (1 + 1 + 1 of 35 pairs)
    bayes_factor = {k: lv["m_probability"] / lv["u_probability"] for k, lv in birth.items() if "m_probability" in lv}
    assert bayes_factor["same month, a date unknown"] < bayes_factor["same date"]


def test_m_is_each_levels_share_of_the_labelled_pairs_and_unseen_levels_keep_their_prior(con):
    con.execute("""create table labels as select * from (values ('r1', 'c1'), ('r2', 'c2'), ('r3', 'c4'), ('r4', 'c5'))
                   as t(record_id_l, record_id_r)""")
    model = settings()
    prior = {(c["output_column_name"], lv["label_for_charts"]): lv.get("m_probability")
             for c in model["comparisons"] for lv in c["comparison_levels"]}
    estimate_m(con, model, "labels")
    m = {(c["output_column_name"], lv["label_for_charts"]): lv.get("m_probability")
         for c in model["comparisons"] for lv in c["comparison_levels"]}
    # names: r3-c4 exact; r1-c1 homophone; r2-c2 and r4-c5 one character apart (3 characters)
    assert m["name", "exact"] == pytest.approx(1 / 4)
    assert m["name", "same pinyin (homophone)"] == pytest.approx(1 / 4)
    assert m["name", "one character apart, 3+ characters"] == pytest.approx(2 / 4)
    assert m["name", "one character apart, 2 characters"] == prior["name", "one character apart, 2 characters"]
    # birth: r1-c1 has no census date (a level whose m is fixed: untouched, but one of the four
    # pairs, as in Splink); two pairs agree on the date, one on the month only
    assert m["birth", "same date"] == pytest.approx(2 / 4)
    assert m["birth", "same month, dates differ"] == pytest.approx(1 / 4)
    assert m["birth", "same month, a date unknown"] == prior["birth", "same month, a date unknown"]
    # place: r2-c2 counted in another township of the county
    assert m["place", "same township"] == pytest.approx(3 / 4) and m["place", "same county"] == pytest.approx(1 / 4)
    # the ID comparison's m values are fixed
    assert all(m[k] == prior[k] for k in m if k[0] == "id_number")
