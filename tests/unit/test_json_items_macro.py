"""The staging macros read an item's JSON without parsing it where they can (json_items.sql): a
string without a backslash is the text between its quotes. Whatever a device sends, that must
read exactly what a JSON parser reads: the string's value, the integer, or missing."""

import json

import duckdb
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.dbt_helpers import compile_inline

_SQL: dict[str, str] = {}


def _compiled(tmp_path_factory) -> str:
    if "sql" not in _SQL:
        _SQL["sql"] = compile_inline(
            "select n, {{ json_text('v') }} as text, {{ json_int('v') }} as int, {{ json_code('v') }} as code, "
            "{{ json_code('v', 2) }} as code2, "
            "case when json_type(v) = 'VARCHAR' and regexp_full_match(trim(v ->> '$'), '[0-9]{1,3}') "
            "     then cast(cast(trim(v ->> '$') as integer) as varchar) end as parsed_code "
            "from item_values", str(tmp_path_factory.mktemp("w") / "w.duckdb"))
    return _SQL["sql"]


scalars = (st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text()
           | st.from_regex(r"[ \t\u3000]{0,2}[0-9]{1,4}[ \t\u3000]{0,2}", fullmatch=True)
           | st.text(alphabet='"\\/\b\f\n\r\t\x00\x1f\u2028中x', max_size=6))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=3), inner, max_size=3), max_leaves=6)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(values, st.booleans()), min_size=1, max_size=40))
@example([("100", False), ("7", False), (" 058 ", False)])  # a code wider than its width: "100", never "10"
def test_item_values_read_as_a_json_parser_reads_them(tmp_path_factory, items):
    sql = _compiled(tmp_path_factory)
    con = duckdb.connect()
    # the item as ingestion stores it: one key of the line, kept as JSON by json_transform
    con.execute("create table lines (n integer, line varchar)")
    con.executemany("insert into lines values (?, ?)",
                    [(n, json.dumps({"v": v}, ensure_ascii=ascii)) for n, (v, ascii) in enumerate(items)])
    con.execute("""create table item_values as
                   select n, json_transform(line, '{"v": "JSON"}').v as v from lines""")
    rows = con.execute(sql + " order by n").fetchall()
    assert len(rows) == len(items)
    for (_n, text, as_int, code, code2, parsed_code), (v, _) in zip(rows, items, strict=True):
        assert text == (v if isinstance(v, str) else None), (v, text)
        whole = isinstance(v, int) and not isinstance(v, bool) and -2**63 <= v < 2**63
        assert as_int == (v if whole else None), (v, as_int)
        assert code == parsed_code, (v, code, parsed_code)
        assert code2 == (parsed_code.rjust(2, "0") if parsed_code is not None else None)


def test_codes_and_integers_by_example(tmp_path_factory):
    sql = _compiled(tmp_path_factory)
    con = duckdb.connect()
    cases = ['"01"', '" 2 "', '"\\u0033"', "4", '"1.5"', '"x"', "null", '"1234"', "7", "7.0", "1e2",
             "99999999999999999999", '{"a": 1}', '["1"]']
    con.execute("create table item_values as select * from (values " +
                ", ".join(f"({i}, '{c}'::json)" for i, c in enumerate(cases)) + ") t(n, v)")
    got = {cases[n]: (code, as_int) for n, _, as_int, code, *_ in con.execute(sql).fetchall()}
    assert got['"01"'] == ("1", None) and got['" 2 "'] == ("2", None) and got['"\\u0033"'] == ("3", None)
    assert got["4"] == (None, 4) and got["7"] == (None, 7)  # a number is not a code; an integer is one
    for wrong in ('"1.5"', '"x"', "null", '"1234"', "7.0", "1e2", "99999999999999999999", '{"a": 1}', '["1"]'):
        assert got[wrong] == (None, None), wrong
