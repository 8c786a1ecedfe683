"""DuckDB's hash() of text, recomputed in Python for the Spark engine, against DuckDB itself: the
donors, jackknife groups and cell keys depend on every bit of it."""

import random

import duckdb

from census_pipeline.lib.duckdb_hash import duckdb_string_hash


def test_equals_duckdb_hash_on_every_length_and_script():
    rng = random.Random(14)
    alphabet = "abcXYZ0189:-|' 张王李杭州市\u00e9\U0001f600"
    texts = ["", "a", "1234567", "12345678", "123456789", "x" * 12, "y" * 13, "z" * 64,
             "0216a5d5-947f-12a2-0c36-186b0d01ebe6:1birth20201101", "330106001001001jackknife",
             *("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(500))]
    con = duckdb.connect()
    want = con.execute("select list(hash(t) order by i) from (select unnest(?) as t, generate_subscripts(?, 1) as i)",
                       [texts, texts]).fetchone()[0]
    assert [duckdb_string_hash(t) for t in texts] == want
