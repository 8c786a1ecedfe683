"""GB 11643 ID-number rules, cross-checked against python-stdnum on thousands of strings."""

import datetime as dt

import pytest

from census_pipeline.lib import idnumber
from tests.builders import id_number_cases, stdnum_valid


def test_agrees_with_stdnum_on_thousands_of_strings():
    cases = id_number_cases()
    disagreements = [s for s in cases if idnumber.is_valid(s) != stdnum_valid(s)]
    assert not disagreements, disagreements[:10]
    assert sum(idnumber.is_valid(s) for s in cases) > 600  # the mix really holds valid numbers


@pytest.mark.parametrize(("raw", "valid"), [
    ("11010519491231002X", True), ("11010519491231002x", True), (" 11010519491231002X ", True),
    ("110105194912310021", False), ("11010518891231002X", False), (None, False), ("", False),
])
def test_boundaries(raw, valid):
    assert idnumber.is_valid(raw) is valid


def test_sex_and_birth_date_come_from_the_number():
    n = idnumber.make("330106", dt.date(1985, 11, 1), 7)
    assert idnumber.sex(n) == "1" and idnumber.birth_date(n) == dt.date(1985, 11, 1)
    assert idnumber.sex(idnumber.make("330106", dt.date(1985, 11, 1), 8)) == "2"
