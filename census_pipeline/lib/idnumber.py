"""Citizen ID numbers (公民身份号码), GB 11643-1999.

18 characters: 6-digit area code, 8-digit birth date, 3-digit sequence (odd = male),
check character by ISO 7064 MOD 11-2 (0-9 or X). The warehouse applies the same rule in
SQL (dbt macro `is_valid_id_number`); this module is what the generator uses to write
valid numbers and what the tests cross-check against python-stdnum.
"""

from __future__ import annotations

import datetime as dt

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"  # index = sum(weights * digits) mod 11
EARLIEST_BIRTH = dt.date(1890, 1, 1)


def check_char(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character for 17 digits."""
    total = sum(int(c) * w for c, w in zip(first17, WEIGHTS, strict=True))
    return CHECK_CHARS[total % 11]


def make(area: str, birth: dt.date, sequence: int) -> str:
    """A valid 18-character number; `sequence` 0..999, odd for a man, even for a woman."""
    body = f"{area}{birth:%Y%m%d}{sequence:03d}"
    return body + check_char(body)


def normalise(raw: str | None) -> str | None:
    """Trim and read a final lowercase x as X, as the processing rules say."""
    if raw is None:
        return None
    s = raw.strip()
    if s.endswith("x"):
        s = s[:-1] + "X"
    return s


def birth_date(raw: str | None) -> dt.date | None:
    """The birth date of a valid number, else None."""
    s = normalise(raw)
    if not is_valid(s):
        return None
    return dt.date(int(s[6:10]), int(s[10:12]), int(s[12:14]))


def is_valid(raw: str | None) -> bool:
    """GB 11643 validity as `rules.md` defines it (format, check character, real date >= 1890-01-01)."""
    s = normalise(raw)
    if s is None or len(s) != 18 or not s[:17].isdigit() or not s[:17].isascii():
        return False
    if s[17] not in "0123456789X":
        return False
    try:
        born = dt.date(int(s[6:10]), int(s[10:12]), int(s[12:14]))
    except ValueError:
        return False
    if born < EARLIEST_BIRTH:
        return False
    return check_char(s[:17]) == s[17]


def sex(raw: str | None) -> str | None:
    """'1' (male, odd sequence) or '2' (female) for a valid number, else None."""
    s = normalise(raw)
    if not is_valid(s):
        return None
    return "1" if int(s[16]) % 2 == 1 else "2"
