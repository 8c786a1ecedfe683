"""GB 11643 ID-number rules, cross-checked against python-stdnum on thousands of strings."""

import datetime as dt
import random

import pytest
from stdnum.cn import ric

from census_pipeline.lib import idnumber


def _stdnum_valid(s: str) -> bool:
    """stdnum's own parts for what rules.md defines: format, real birth date, check character.
    (ric.validate also rejects birth places missing from its county database, which the
    contract does not ask for: a valid number from an unlisted area still counts.)"""
    if not s.strip().isascii():  # stdnum folds full-width digits to ASCII; the contract does not
        return False
    s = ric.compact(s)
    if len(s) != 18 or not s[:17].isdigit() or not s[:17].isascii():
        return False
    try:
        born = ric.get_birth_date(s)
    except Exception:
        return False
    return born >= dt.date(1890, 1, 1) and ric.calc_check_digit(s) == s[17]


def _cases(n: int = 4000) -> list[str]:
    rng = random.Random(20201101)
    out = []
    for _ in range(n):
        born = dt.date(1900, 1, 1) + dt.timedelta(days=rng.randrange(44000))
        valid = idnumber.make(rng.choice(["330106", "341221", "110101"]), born, rng.randrange(1000))
        kind = rng.randrange(6)
        if kind == 0:
            out.append(valid)
        elif kind == 1:  # one digit changed
            i = rng.randrange(17)
            out.append(valid[:i] + str((int(valid[i]) + rng.randrange(1, 10)) % 10) + valid[i + 1:])
        elif kind == 2:  # adjacent digits transposed
            i = rng.randrange(16)
            out.append(valid[:i] + valid[i + 1] + valid[i] + valid[i + 2:])
        elif kind == 3:  # random 18 characters
            out.append("".join(rng.choice("0123456789X") for _ in range(18)))
        elif kind == 4:  # impossible dates
            out.append(valid[:10] + rng.choice(["0230", "1301", "0000", "0431"]) + valid[14:])
        else:  # wrong length
            out.append(valid[: rng.choice([15, 17])])
    return out


def test_agrees_with_stdnum_on_thousands_of_strings():
    cases = _cases()
    disagreements = [s for s in cases if idnumber.is_valid(s) != _stdnum_valid(s)]
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
