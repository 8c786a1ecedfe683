"""Great Expectations pages made to open offline, and expectations put in plain words."""

from census_pipeline.resources.data_docs import MARK, offline
from census_pipeline.resources.expectations import in_words, observed, strip_values, without_values

GX_HEAD = """<html><head><link rel="stylesheet" href="https://maxcdn.example/bootstrap.min.css"/>
<script src="https://code.example/jquery.min.js"></script><style>a { background: url('https://s3.example/logo.png') }</style>
<link rel="shortcut icon" href="../static/images/favicon.ico"/></head>
<body><img src="https://s3.example/logo-long.png"><script>$('#t').bootstrapTable({data: []});</script>
<a href="https://greatexpectations.io">GX</a><table><tr><td>0</td></tr></table></body></html>"""


def test_a_gx_page_loses_every_request_outside_the_site_and_keeps_its_content():
    page = offline(GX_HEAD, depth=2)
    assert "http" not in page and "<script" not in page
    assert '<link rel="stylesheet" href="../../static/styles/census_data_docs.css">' in page
    assert 'href="../static/images/favicon.ico"' in page and "<table><tr><td>0</td></tr></table>" in page
    assert MARK in page


def test_expectations_in_plain_words():
    assert in_words("expect_column_values_to_be_between", {"column": "age", "min_value": 0.0, "max_value": 120.0}) \
        == "age from 0 to 120"
    assert in_words("expect_column_values_to_be_between", {"column": "n", "max_value": 5}) == "n at most 5"
    assert in_words("expect_column_values_to_be_in_set", {"column": "sex", "value_set": ["1", "2"], "mostly": 0.95}) \
        == "sex is one of 1, 2, in at least 95% of rows"
    assert observed("unexpected_rows_expectation", {"observed_value": 3}) == "3 row(s) break the rule"
    assert observed("expect_column_distinct_values_to_be_in_set", {"observed_value": ["张三"]}) == \
        "(withheld: not a count)"


def test_stripped_results_keep_counts_only():
    class R:
        result = {"element_count": 9, "unexpected_count": 1, "partial_unexpected_list": ["张三"],
                  "partial_unexpected_index_list": [{"submission_id": "s1", "channel": "张三"}],
                  "details": {"unexpected_rows": [["张三"]]}, "observed_value": ["张三"]}

    class V:
        results = [R()]

    strip_values(V)
    assert V.results[0].result == {"element_count": 9, "unexpected_count": 1}


def test_an_engine_s_error_message_keeps_what_failed_and_loses_the_value():
    spark = ("[CAST_INVALID_INPUT] The value '330106194312027228' of the type \"STRING\" cannot be cast to "
             "\"INT\" because it is malformed. SQLSTATE: 22018\n== SQL (line 1, position 8) ==\nselect '张三'")
    duck = "Conversion Error: Could not convert string '王小明' to INT32 near 13012345678 and 李"
    assert without_values(spark) == ("[CAST_INVALID_INPUT] The value '…' of the type \"STRING\" cannot be cast to "
                                     "\"INT\" because it is malformed. SQLSTATE: 22018")
    assert without_values(duck) == "Conversion Error: Could not convert string '…' to INT32 near … and …"
    assert without_values(None) is None and len(without_values("x" * 1000)) == 301

    class R:
        result = {"element_count": 9}
        exception_info = {"metric.id": {"raised_exception": True, "exception_message": duck,
                                        "exception_traceback": "Traceback ... '王小明' ..."}}

    class V:
        results = [R()]

    strip_values(V)
    assert V.results[0].exception_info == {"metric.id": {
        "raised_exception": True, "exception_message": "Conversion Error: Could not convert string '…' to INT32 "
                                                       "near … and …", "exception_traceback": None}}
