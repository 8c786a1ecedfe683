"""The dbt macro is_valid_id_number agrees with python-stdnum (and lib.idnumber) on every string."""

import duckdb

from census_pipeline.lib import idnumber
from tests.builders import id_number_cases, stdnum_valid
from tests.dbt_helpers import compile_inline


def test_macro_agrees_with_stdnum_and_python(tmp_path):
    cases = id_number_cases(5000) + ["11010519491231002x", " 11010519491231002X ", "", "11010518891231002X",
                            "1101051949123100２X", "abcdefghijklmnopqr", "110105194902290021"]
    sql = compile_inline(
        "select s, {{ is_valid_id_number(normalise_id_number('s')) }} as ok, "
        "case when {{ is_valid_id_number(normalise_id_number('s')) }} then {{ id_sex(normalise_id_number('s')) }} end as sex, "
        "case when {{ is_valid_id_number(normalise_id_number('s')) }} then {{ id_birth_date(normalise_id_number('s')) }} end as born "
        "from cases", str(tmp_path / "w.duckdb"))
    con = duckdb.connect()
    con.execute("create table cases(s varchar)")
    con.executemany("insert into cases values (?)", [(c,) for c in cases])
    rows = con.execute(sql).fetchall()
    assert len(rows) == len(cases)
    disagree = [(s, ok) for s, ok, _, _ in rows if ok != stdnum_valid(idnumber.normalise(s) or "")]
    assert not disagree, disagree[:10]
    for s, ok, sex, born in rows:
        assert ok == idnumber.is_valid(s)
        if ok:
            assert sex == idnumber.sex(s) and born == idnumber.birth_date(s)
    assert sum(r[1] for r in rows) > 700
