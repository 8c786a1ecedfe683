"""ID numbers (GB 11643) of generated persons: valid and never repeated, even when counties are
drawn apart in parallel; and the invalid ones planted on forms and in registers."""

from __future__ import annotations

import datetime as dt
import random
from array import array
from functools import cache

from census_demo.calibration import COUNTY_POPULATION
from census_pipeline.lib import idnumber

# The weighted digit sums of an ID number's parts are cached: a fast path of idnumber.make and
# idnumber.birth_date, with exactly their results (see census_demo.fast).
_W = idnumber.WEIGHTS


@cache
def _area_sum(area: str) -> int:
    return sum(int(c) * w for c, w in zip(area, _W[:6], strict=True))


@cache
def _date_part(born: dt.date) -> tuple[str, int]:
    ymd = f"{born:%Y%m%d}"
    return ymd, sum(int(c) * w for c, w in zip(ymd, _W[6:14], strict=True))


@cache
def _seq_part(seq: int) -> tuple[str, int]:
    s = f"{seq:03d}"
    return s, sum(int(c) * w for c, w in zip(s, _W[14:], strict=True))


def make_id(area: str, born: dt.date, seq: int) -> str:
    """idnumber.make(area, born, seq), with the weighted digit sums of its parts cached."""
    ymd, b = _date_part(born)
    sq, q = _seq_part(seq)
    return f"{area}{ymd}{sq}{idnumber.CHECK_CHARS[(_area_sum(area) + b + q) % 11]}"


@cache
def _ymd_date(ymd: str) -> dt.date | None:
    try:
        born = dt.date(int(ymd[:4]), int(ymd[4:6]), int(ymd[6:]))
    except ValueError:
        return None
    return born if born >= idnumber.EARLIEST_BIRTH else None


def id_birth_date(raw: str | None) -> dt.date | None:
    """idnumber.birth_date(raw): the birth date of a valid number, else None; the common case
    (18 ASCII characters, nothing to normalise) without re-summing every digit."""
    if raw.__class__ is not str or len(raw) != 18 or not raw.isascii() or not raw[:17].isdigit() \
            or raw[17] not in "0123456789X":
        return idnumber.birth_date(raw)
    born = _ymd_date(raw[6:14])
    if born is None:
        return None
    total = _area_sum(raw[:6]) + _date_part(born)[1] + _seq_part(int(raw[14:17]))[1]
    return born if idnumber.CHECK_CHARS[total % 11] == raw[17] else None


class IdAllocator:
    """Unique valid ID numbers: a sequence counter per (area, birth date, sex), kept in a flat
    array of 2-byte counters (about 190 KB per area code), so memory does not grow with the
    number of persons.

    The 3-digit sequence gives 500 numbers per (area, birth date, sex): odd 001..999 for men,
    even 002..998 and then 000 for women. Counties are drawn apart (possibly in parallel), so
    each county's allocator (`home`, its `slot` 0..12) owns a fixed part of every cell:
    - of its own area code (where most of its people are born), the first HOME_SLOTS numbers;
    - of another county's code, CITY_SLOTS numbers after those, one block per county;
    - of any other area (outside the city, or a district abolished in 2021, whose people
      live in every county), an equal share, OUTSIDE_SLOTS numbers.
    An allocator without a home owns all 500. Issuing past its part would repeat a number,
    so `new` raises OverflowError instead (`max_used` says how full the fullest cell got:
    at 1 M households, 22 numbers in a home cell)."""

    FIRST_DAY = dt.date(1890, 1, 1)
    FIRST_ORDINAL = FIRST_DAY.toordinal()
    DAYS = (dt.date(2021, 1, 1) - FIRST_DAY).days
    PER_CELL = 500
    HOME_SLOTS = 200
    CITY_SLOTS = 25  # x 12 other counties = 300; 200 + 300 = 500
    OUTSIDE_SLOTS = 38  # x 13 counties = 494

    def __init__(self, home: str | None = None, slot: int = 0) -> None:
        self.areas: dict[str, int] = {}
        self.counts = array("H")
        self.home, self.slot = home, slot
        self.parts: list[tuple[int, int]] = []  # (first number, how many) of each area, by index
        if home is not None and not 0 <= slot < len(COUNTY_POPULATION):
            raise ValueError(f"no ID sequence numbers for county slot {slot}")

    def _part(self, area: str) -> tuple[int, int]:
        if self.home is None:
            return 0, self.PER_CELL
        if area == self.home:
            return 0, self.HOME_SLOTS
        if area in COUNTY_POPULATION:
            owner = list(COUNTY_POPULATION).index(area)
            j = self.slot - (self.slot > owner)  # this county's place among the other 12
            return self.HOME_SLOTS + j * self.CITY_SLOTS, self.CITY_SLOTS
        return self.slot * self.OUTSIDE_SLOTS, self.OUTSIDE_SLOTS

    def new(self, area: str, born: dt.date, sex: str) -> str:
        a = self.areas.get(area)
        if a is None:
            a = self.areas[area] = len(self.areas)
            self.counts.extend(array("H", [0]) * (2 * self.DAYS))
            self.parts.append(self._part(area))
        i = (a * self.DAYS + born.toordinal() - self.FIRST_ORDINAL) * 2 + (sex != "1")
        n = self.counts[i]
        base, cap = self.parts[a]
        if n >= cap:
            raise OverflowError(f"more than {cap} ID numbers for area {area}, born {born}, sex {sex}"
                                f"{f' in county {self.home}' if self.home else ''}: the 3-digit sequence would repeat")
        self.counts[i] = n + 1
        seq = ((base + n) * 2 + (1 if sex == "1" else 2)) % 1000
        return make_id(area, born, seq)

    def max_used(self) -> dict[str, int]:
        """How full the fullest cell is, as a count and as a share of its part, by kind of area
        (to watch the headroom)."""
        import numpy as np

        span = 2 * self.DAYS
        out: dict = {}
        for area, a in self.areas.items():
            base, cap = self.parts[a]
            kind = "home" if self.home is None or area == self.home else "city" if area in COUNTY_POPULATION else "outside"
            n = int(np.frombuffer(self.counts, dtype=np.uint16)[a * span:(a + 1) * span].max())
            if n > out.get(kind, (0, cap))[0]:
                out[kind] = (n, cap)
        return out


def corrupt_id(rng: random.Random, valid: str) -> str:
    """An ID number that fails GB 11643: a transposed or mistyped digit, or a lost one."""
    while True:
        kind = rng.random()
        s = list(valid)
        if kind < 0.5:
            i = rng.randrange(0, 16)
            s[i], s[i + 1] = s[i + 1], s[i]
        elif kind < 0.9:
            i = rng.randrange(0, 17)
            s[i] = str((int(s[i]) + rng.randrange(1, 10)) % 10)
        else:
            del s[rng.randrange(0, 17)]
        out = "".join(s)
        if not idnumber.is_valid(out):
            return out
