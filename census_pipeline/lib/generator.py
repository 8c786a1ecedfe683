"""Demo census generator: a landing zone that follows `../shared/spec`, and its truth.

The generated city is calibrated to Hangzhou's published seventh-census figures (county
populations, family/collective households, household sizes, sex ratio, age structure),
with migrants, people registered here but living elsewhere, dormitories and care homes, a
10% long-form sample, deaths and births, and register extracts consistent with the
population. Every defect a real census has is planted at a configurable rate, and the
truth file says what the pipeline must make of it.

Households are generated one at a time and written straight to their batch files, so
memory stays bounded whatever the size; only small per-county counters are kept.
"""

from __future__ import annotations

import bisect
import csv
import dataclasses
import datetime as dt
import gzip
import io
import json
import os
import random
import shutil
import tempfile
import uuid
import zlib
from array import array
from collections import Counter, defaultdict
from collections.abc import Callable
from functools import cache, lru_cache
from itertools import accumulate
from pathlib import Path

from census_pipeline.lib import idnumber, names
from census_pipeline.lib.codes import CITY_CODE, counties, is_district
from census_pipeline.lib.geography import (
    CITY_BIRTH_AREAS_EXTRA,
    COUNTY_COLLECTIVE_SHARE,
    COUNTY_POPULATION,
    COUNTY_TOWNSHIPS,
    COUNTY_URBAN_SHARE,
    OTHER_PROVINCE_ORIGINS,
    OUTSIDE_CITY_CODE,
    ZHEJIANG_ORIGINS,
)
from census_pipeline.lib.oracle import STANDARD_DATE, age_at_standard_time, counts_here, migration_class
from census_pipeline.lib.truth_files import truth_links_path_for, truth_path_for

TZ = dt.timezone(dt.timedelta(hours=8))
EXTRACTED_ON = "2020-10-20"
UPDATE_EXTRACTED_ON = "2020-11-20"
HOUSEHOLDS_PER_EA = 60


# ----------------------------------------------------------------------------- fast paths
# The generator spends its time in small calls made millions of times. These give exactly
# the values of the library calls they replace (same random draws, same strings), faster.


class FastRandom(random.Random):
    """random.Random with the same stream and the same results, minus the call overhead of
    randint/choice and the re-accumulation of the same weights on every choices() call."""

    _cum: dict = {}

    def randint(self, a: int, b: int) -> int:
        n = b - a + 1
        k = n.bit_length()
        getrandbits = self.getrandbits
        r = getrandbits(k)
        while r >= n:
            r = getrandbits(k)
        return a + r

    def choice(self, seq):
        n = len(seq)
        if not n:
            raise IndexError("Cannot choose from an empty sequence")
        k = n.bit_length()
        getrandbits = self.getrandbits
        r = getrandbits(k)
        while r >= n:
            r = getrandbits(k)
        return seq[r]

    def _cumulative(self, population, weights: tuple) -> tuple:
        c = self._cum.get(weights)
        if c is None:
            cum = list(accumulate(weights))
            if len(cum) != len(population):
                raise ValueError("The number of weights does not match the population")
            total = cum[-1] + 0.0
            if not 0.0 < total < float("inf"):
                raise ValueError("Total of weights must be finite and greater than zero")
            c = self._cum[weights] = (cum, total, len(cum) - 1)
        return c

    def choices(self, population, weights=None, *, cum_weights=None, k=1):
        if k != 1 or cum_weights is not None or type(weights) is not tuple:
            return super().choices(population, weights, cum_weights=cum_weights, k=k)
        cum, total, hi = self._cum.get(weights) or self._cumulative(population, weights)
        return [population[bisect.bisect(cum, self.random() * total, 0, hi)]]

    def pick(self, population, weights: tuple):
        """choices(population, weights)[0] for a tuple of weights: the same draw, no list."""
        c = self._cum.get(weights) or self._cumulative(population, weights)
        return population[bisect.bisect(c[0], self.random() * c[1], 0, c[2])]


def uuid_str(n: int) -> str:
    """str(uuid.UUID(int=n)), without building the UUID object."""
    h = f"{n:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


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


counts_here_cached = lru_cache(maxsize=None)(counts_here)
migration_class_cached = lru_cache(maxsize=None)(migration_class)


@cache
def _age_on(born: dt.date) -> int:
    return age_at_standard_time(born.year, born.month, born.day)


@cache
def _next_day(iso: str) -> str:
    return (dt.date.fromisoformat(iso) + dt.timedelta(days=1)).isoformat()


@cache
def _ym(d: dt.date) -> str:
    return f"{d.year:04d}-{d.month:02d}"


_json_line = json.JSONEncoder(ensure_ascii=False, check_circular=False).encode  # json.dumps(x, ensure_ascii=False)


@dataclasses.dataclass
class Rates:
    """How often each real-census defect is planted (per household unless noted)."""

    self_final: float = 0.30  # households that self-enumerate by QR code (final)
    long_form: float = 0.10  # long-form sample households
    pre_registration: float = 0.08  # enumerator pre-registration before 11-01, superseded
    partial_self: float = 0.06  # incomplete self-enumeration, superseded by a final
    no_final: float = 0.004  # only a partial or a pre-registration ever arrives
    short_after_long: float = 0.2  # of long-form households: a later short final too (long wins)
    missing_household: float = 0.004  # listed, never enumerated
    unlisted_household: float = 0.003  # found during enumeration, not in the frame
    redelivered_batch: float = 0.04  # per batch file: delivered again under another name
    conflicting_redelivery: float = 0.0005  # per submission: re-sent later with other contents
    malformed_line: float = 0.003  # per submission: a corrupted copy is also delivered
    outside_area: float = 0.0003  # per household: a submission from outside the census area
    gzip_file: float = 0.15  # per batch file
    truncated_gzip: float = 0.01  # per batch file: a damaged gzip re-delivery
    id_contradiction: float = 0.003  # per person: form sex or birth month contradicts the ID
    invalid_id: float = 0.004  # per person: an ID number that fails GB 11643
    born_after_standard_time: float = 0.01  # of households with a young mother: a baby born 11-01 or later
    duplicate_person: float = 0.003  # per household: a member also counted in another household
    omitted_person: float = 0.003  # per household: a resident left off the person lines
    register_only: float = 0.004  # per household: a registrant missing from the census
    name_typo: float = 0.01  # per register record
    name_homophone: float = 0.01  # per register record
    register_id_error: float = 0.001  # per register record: a wrong ID in the register
    register_update: float = 0.01  # per register record: a newer extract re-delivers it
    hk_macao_taiwan_or_foreign: float = 0.004  # per household: a resident from HK, Macao, Taiwan or abroad
    # coverage: who the census misses without any trace (the household forgets them), and the
    # post-enumeration survey (PES) that measures it
    census_miss_person: float = 0.003  # per resident after the first: infants x4, 80+ x2, lodgers x4, migrants x2
    pes_ea_fraction: float = 0.05  # of enumeration areas, stratified by county x urban/rural (2+ per stratum)
    pes_miss_household: float = 0.02  # the PES's own misses, independent of the census's
    pes_miss_person: float = 0.02
    pes_name_typo: float = 0.01  # per PES person line
    pes_id_missing: float = 0.02  # per PES person line: the ID number not given


@dataclasses.dataclass(slots=True)
class Person:
    name: str
    sex: str
    born: dt.date
    rel: str
    area: str  # birth-place area code of the ID
    id_number: str | None
    id_type: str = "1"
    ethnicity: str = "01"
    residence: str = "1"
    hukou_place: str = "1"
    hukou_region_code: str | None = None
    duration: str | None = "1"
    reason: str | None = None
    education: str | None = None
    literate: str | None = None
    hukou_county: str | None = None  # where the register has them, when in the city
    hukou_township: str | None = None
    form_sex: str | None = None  # planted contradictions: what the form says instead
    form_birth_ym: str | None = None
    form_id: str | None = None  # planted invalid ID: what the form says instead
    long: dict | None = None
    register_no: str | None = None
    register_name: str | None = None  # as the register writes it (typos, homophones)
    register_id: str | None = None
    in_register: bool = True  # False for the planted second record of a person counted twice
    in_census: bool = False  # listed on its household's authoritative submission
    pid: int = 0  # the human behind the records: the same on every record of one person (truth only)

    @property
    def age(self) -> int:
        return _age_on(self.born)


# ----------------------------------------------------------------------------- geography


@dataclasses.dataclass
class EA:
    code: str
    urban_rural: str
    county: str
    township: str  # 9 digits


# Village-level numbers as the statistical division codes give them: residents' committees
# (urban) 001-199, villagers' committees (rural) 201-399. A township has at most 199 of each,
# so an urban and a rural village can never share a number; a bigger township gets more EAs
# per village instead (issue 16: at 4.15 M households, townships of 200+ villages gave urban
# village v and rural village v-200 the same number, and 58,207 household IDs repeated).
MAX_VILLAGES_PER_TOWNSHIP = 199
RURAL_VILLAGE_BASE = 200
MAX_EA_NUMBER = 999
MAX_DWELLING = 9998  # 9999 is the dwelling number of the planted outside-area submissions


def build_geography(rng: random.Random, n_households: int, min_township_households: int = 40) -> list[tuple[EA, int]]:
    """Enumeration areas with their household counts, county shares as published. Small
    censuses get fewer townships (at least `min_township_households` households each).
    Raises ValueError if any code would repeat or overflow its digits (`check_geography`)."""
    total_pop = sum(COUNTY_POPULATION.values())
    eas: list[tuple[EA, int]] = []
    for county, pop in COUNTY_POPULATION.items():
        hh = max(1, round(n_households * pop / total_pop))
        n_town = min(COUNTY_TOWNSHIPS[county], max(1, hh // max(1, min_township_households)))
        town_weights = [rng.uniform(0.5, 1.5) for _ in range(n_town)]
        town_hh = _split(hh, town_weights)
        for t, thh in enumerate(town_hh):
            if thh == 0:
                continue
            township = f"{county}{t + 1:03d}"
            n_vill = min(MAX_VILLAGES_PER_TOWNSHIP, max(1, round(thh / (HOUSEHOLDS_PER_EA * 2))))
            vill_hh = _split(thh, [rng.uniform(0.6, 1.4) for _ in range(n_vill)])
            n_urban = n_rural = 0
            for vhh in vill_hh:
                if vhh == 0:
                    continue
                urban = rng.random() < COUNTY_URBAN_SHARE[county]
                if urban:
                    n_urban += 1
                    number = n_urban
                else:
                    n_rural += 1
                    number = RURAL_VILLAGE_BASE + n_rural
                village = f"{township}{number:03d}"
                ur = rng.choice(("111", "112", "121", "122")) if urban else rng.choice(("210", "220", "220"))
                n_ea = max(1, round(vhh / HOUSEHOLDS_PER_EA))
                for e, ehh in enumerate(_split(vhh, [1.0] * n_ea)):
                    if ehh:
                        eas.append((EA(f"{village}{e + 1:03d}", ur, county, township), ehh))
    check_geography(eas)
    return eas


def check_geography(eas: list[tuple[EA, int]]) -> None:
    """The uniqueness invariant: every EA code is 15 digits (county, township, village, EA
    number) and appears once, and no EA has more dwellings than 4 digits can number, so every
    household ID `H<ea code><dwelling:04d>` is unique too. Raises ValueError otherwise."""
    seen: set[str] = set()
    for ea, n in eas:
        code = ea.code
        if len(code) != 15 or not code.isdigit() or not code.startswith(ea.township) or ea.township[:6] != ea.county:
            raise ValueError(f"malformed EA code {code!r} (county {ea.county}, township {ea.township})")
        if code in seen:
            raise ValueError(f"EA code {code} would repeat: its household IDs would not be unique")
        seen.add(code)
        if not 1 <= n <= MAX_DWELLING:
            raise ValueError(f"EA {code} has {n} dwellings; household IDs number at most {MAX_DWELLING}")
        if code[9:12] == "000" or code[12:] == "000":
            raise ValueError(f"EA code {code} has a zero village or EA number")


def _split(total: int, weights: list[float]) -> list[int]:
    s = sum(weights)
    parts = [int(total * w / s) for w in weights]
    for i in range(total - sum(parts)):
        parts[i % len(parts)] += 1
    return parts


# ----------------------------------------------------------------------------- ID numbers


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


# ----------------------------------------------------------------------------- batch files


class BatchWriter:
    """Writes submission lines into `uploads/<channel>/<date>/<batch>.jsonl[.gz]`, rotating at
    `batch_size` lines, and plants file-level defects (re-deliveries, gzip, damage, BOM)."""

    def __init__(self, root: Path, rng: random.Random, rates: Rates, batch_size: int, truth: Truth,
                 folder: str = "uploads"):
        self.root, self.rng, self.rates, self.batch_size, self.truth = root, rng, rates, batch_size, truth
        self.folder = folder  # uploads/<channel>/<date>/, or pes/<date>/
        self.open: dict[tuple[str, str], dict] = {}
        self.closed: list[dict] = []
        self.made: set[Path] = set()  # folders known to exist

    def _dir(self, channel: str, date: str) -> str:
        return f"pes/{date}" if self.folder == "pes" else f"uploads/{channel}/{date}"

    def write(self, channel: str, upload_date: str, line: str, *, good: bool) -> None:
        key = (channel, upload_date)
        f = self.open.get(key)
        if f is None:
            f = self._open(channel, upload_date)
            self.open[key] = f
        f["buf"].write(line + f["eol"])
        f["received"] += 1
        f["quarantined"] += 0 if good else 1
        if f["blank_every"] and f["received"] % f["blank_every"] == 0:
            f["buf"].write(f["eol"])  # blank lines are not received lines
        if f["received"] >= self.batch_size:
            self._close(key)

    def _open(self, channel: str, upload_date: str) -> dict:
        rng = self.rng
        rel = f"{self._dir(channel, upload_date)}/{uuid_str(rng.getrandbits(128))}.jsonl"
        buf = io.StringIO()
        if rng.random() < 0.05:
            buf.write("\ufeff")  # a byte-order mark some phones write
        return {
            "rel": rel, "buf": buf, "received": 0, "quarantined": 0, "channel": channel,
            "date": upload_date, "gz": rng.random() < self.rates.gzip_file,
            "eol": "\r\n" if rng.random() < 0.05 else "\n",
            "blank_every": rng.choice((0, 0, 0, 0, 37)),
        }

    def _close(self, key) -> None:
        f = self.open.pop(key)
        data = f["buf"].getvalue().encode("utf-8", "surrogateescape")
        rel = f["rel"] + (".gz" if f["gz"] else "")
        self._put(rel, gzip.compress(data, mtime=0) if f["gz"] else data)
        self.truth.file(rel, f["received"], f["quarantined"])
        f["data"] = data
        if self.rng.random() < self.rates.redelivered_batch:
            self._redeliver(f)
        if self.rng.random() < self.rates.truncated_gzip:
            self._damaged_copy(f)

    def _later_date(self, date: str) -> str:
        d = dt.date.fromisoformat(date) + dt.timedelta(days=self.rng.randint(0, 3))
        return min(d, dt.date(2020, 12, 31) if self.folder == "pes" else dt.date(2020, 11, 30)).isoformat()

    def _redeliver(self, f: dict) -> None:
        """The same batch again, under a new name, possibly a later day and gzip."""
        name = uuid.UUID(int=self.rng.getrandbits(128))
        rel = f"{self._dir(f['channel'], self._later_date(f['date']))}/{name}.jsonl"
        if self.rng.random() < 0.5:
            rel += ".gz"
            self._put(rel, gzip.compress(f["data"], mtime=0))
        else:
            self._put(rel, f["data"])
        self.truth.file(rel, f["received"], f["quarantined"])
        self.truth.defects["redelivered_batch_files"] += 1

    def _damaged_copy(self, f: dict) -> None:
        """A gzip re-delivery cut short in transfer: the lines before the damage count."""
        whole = gzip.compress(f["data"], mtime=0)
        cut = whole[: max(20, int(len(whole) * self.rng.uniform(0.3, 0.8)))]
        d = zlib.decompressobj(wbits=31)
        try:
            readable = d.decompress(cut)
        except zlib.error:
            readable = b""
        lines = readable.split(b"\n")[:-1]  # the last piece is cut mid-line
        if lines and lines[0].startswith(b"\xef\xbb\xbf"):
            lines[0] = lines[0][3:]
        complete = [ln for ln in lines if ln.strip()]
        bad = sum(1 for ln in complete if ln.rstrip(b"\r") in self.truth.bad_lines)
        rel = f"{self._dir(f['channel'], self._later_date(f['date']))}/{uuid.UUID(int=self.rng.getrandbits(128))}.jsonl.gz"
        self._put(rel, cut)
        # every complete line before the damage, plus one quarantine row for the rest
        self.truth.file(rel, len(complete) + 1, bad + 1)
        self.truth.defects["truncated_gzip_files"] += 1

    def _put(self, rel: str, data: bytes) -> None:
        path = self.root / rel
        if path.parent not in self.made:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.made.add(path.parent)
        tmp = path.with_name(path.name + ".part")
        tmp.write_bytes(data)
        os.replace(tmp, path)  # written whole, then renamed into place, as the contract says

    def finish(self) -> None:
        for key in list(self.open):
            self._close(key)


# ----------------------------------------------------------------------------- truth


class Truth:
    """What the pipeline must find, accumulated as households are written."""

    def __init__(self) -> None:
        self.files: dict[str, dict[str, int]] = {}
        self.defects: Counter = Counter()
        self.county: dict[str, Counter] = defaultdict(Counter)
        self.township: dict[str, Counter] = defaultdict(Counter)
        self.bad_lines: set[bytes] = set()  # corrupted lines, to recognise them in damaged copies
        self.quarantine_reasons: Counter = Counter()
        self.submissions = 0  # accepted submissions (ids are random UUIDs: each delivery is a new one)
        self.follow_up: Counter = Counter()
        self.pes: Counter = Counter()

    def file(self, rel: str, received: int, quarantined: int) -> None:
        self.files[rel] = {"received": received, "ingested": received - quarantined, "quarantined": quarantined}

    def as_dict(self) -> dict:
        def tot(rows: dict[str, Counter]) -> dict:
            return {k: dict(sorted(v.items())) for k, v in sorted(rows.items())}

        city = Counter()
        for c in self.county.values():
            city.update(c)
        return {
            "files": self.files,
            "totals": {
                "files": len(self.files),
                "lines_received": sum(f["received"] for f in self.files.values()),
                "lines_quarantined": sum(f["quarantined"] for f in self.files.values()),
                "submissions": self.submissions,
            },
            "quarantine_reasons": dict(self.quarantine_reasons),
            "defects": dict(sorted(self.defects.items())),
            "follow_up": dict(sorted(self.follow_up.items())),
            "pes": dict(sorted(self.pes.items())),
            "city": dict(sorted(city.items())),
            "county": tot(self.county),
            "township": tot(self.township),
        }


# ----------------------------------------------------------------------------- the generator


# _birth's first day for each age: 1 November of the year before (age 0 .. 130)
_YEAR_START_ORDINAL = tuple(dt.date(2020 - age - 1, 11, 1).toordinal() for age in range(131))
_DATE_OF_ORDINAL = dt.date.fromordinal
STANDARD_DAY = dt.date(2020, 11, 1)  # the standard time's day (oracle.STANDARD_DATE)


def _ts(rng: random.Random, first: dt.date, last: dt.date) -> dt.datetime:
    d = _DATE_OF_ORDINAL(first.toordinal() + rng.randint(0, (last - first).days))
    return dt.datetime(d.year, d.month, d.day, rng.randint(8, 21), rng.randint(0, 59), rng.randint(0, 59), tzinfo=TZ)


# The age-group keys a counted person adds to (ages 65 and over alike), and the education keys.
_AGE_KEYS = tuple(tuple(key for lo, hi, key in ((0, 14, "age_0_14"), (15, 59, "age_15_59"), (60, 200, "age_60_plus"),
                                                 (65, 200, "age_65_plus")) if lo <= age <= hi) for age in range(66))
_EDU_KEYS = {6: "university", 7: "university", 8: "university", 9: "university", 5: "high_school",
             4: "junior_secondary", 3: "primary"}
YEARS_OF_SCHOOLING = {1: 0, 2: 0, 3: 6, 4: 9, 5: 12, 6: 15, 7: 16, 8: 19, 9: 22}
FAMILY_SIZES = ((1, 0.28), (2, 0.33), (3, 0.23), (4, 0.10), (5, 0.04), (6, 0.015), (7, 0.005))
COLLECTIVE_SIZES = ((1, 0.35), (2, 0.25), (3, 0.15), (4, 0.12), (6, 0.08), (8, 0.03), (12, 0.02))
_FAMILY_SIZE_TABLE = tuple(zip(*FAMILY_SIZES, strict=True))  # (values, weights) for FastRandom.pick
_COLLECTIVE_SIZE_TABLE = tuple(zip(*COLLECTIVE_SIZES, strict=True))
_OTHER_PROVINCE_TABLE = tuple(zip(*OTHER_PROVINCE_ORIGINS, strict=True))
MINORITIES = ("22", "15", "06", "03", "09", "08", "12", "07", "11", "02")


def stream_seed(kind: str, seed: int, county: str) -> str:
    """The seed of a county's own random stream (a string: Random hashes it with SHA-512, the
    same in every process)."""
    return f"{kind}/{seed}/{county}"


PERSONS_PER_COUNTY = 10**8  # person numbers (truth only) of county k: k * 10**8 + 1, ...


@dataclasses.dataclass
class CountyTask:
    k: int  # 1-based, in COUNTY_POPULATION order
    county: str
    eas: list[tuple[EA, int]]
    pes_eas: set[str]
    parts: Path  # where the county writes its parts of the frame, registers and truth links


class Generator:
    """The whole census is drawn county by county: the geography and the PES sample from the
    seed, then each county's households from its own random streams, derived from (seed,
    county), into its own batch files and parts of the frame, registers and truth links,
    which are then joined in county order. So a county's output does not depend on which
    process draws it, or when: with `workers` > 1 the counties are drawn in parallel and the
    landing zone, truth and truth links are byte for byte those of `workers` = 1."""

    def __init__(self, out: Path, households: int, seed: int, rates: Rates | None = None, batch_size: int = 250,
                 min_township_households: int = 40, pes_seed: int | None = None, workers: int = 1):
        self.min_township_households = min_township_households
        self.out = Path(out)
        self.n_households = households
        self.seed = seed
        self.workers = max(1, int(workers))
        self.rng = FastRandom(seed)
        self.rates = rates or Rates()
        self.truth = Truth()
        self.ids = IdAllocator()
        self.batch_size = batch_size
        self.person_no = 0
        self.counties = list(COUNTY_POPULATION)
        self.townships_of: dict[str, list[str]] = defaultdict(list)
        self._other_townships: dict[tuple[str, str], list[str]] = {}  # _set_hukou's choices, by (county, township)
        self.enumerators: dict[str, str] = {}
        self.listed: dict[str, list[Person]] = {}
        self.n_people = 0
        # the PES draws apart: the census is the same without it, and with another PES seed
        self.pes_seed = seed * 7919 + 17 if pes_seed is None else pes_seed
        self.pes_rng = FastRandom(self.pes_seed)
        self.pes_eas: set[str] = set()
        self.census_by_date = array("q")  # hash(name, sex, birth date) of census lines with a valid ID
        self.census_by_month = array("q")  # hash(name, sex, birth month) of lines without one
        self.foreign_ids: set[str] = set()  # ID numbers of type 2/3 issued (about 0.4% of households)
        self.unfound: list[tuple[str, str, dt.date, str]] = []

    # -- people ------------------------------------------------------------------------

    def _birth(self, age: int) -> dt.date:
        """A birth date giving `age` completed years at the standard time."""
        return _DATE_OF_ORDINAL(_YEAR_START_ORDINAL[age] + self.rng.randint(0, 364))

    def _education(self, age: int) -> tuple[str | None, str | None]:
        rng = self.rng
        if age < 3:
            return None, None
        if age < 6:
            return "2", None
        if age < 12:
            return "3", None
        if age < 15:
            return "4", None
        if age < 18:
            edu = rng.choice("45")
        elif age < 60:
            edu = rng.pick("1345678", (1, 8, 28, 20, 14, 22, 4) if age >= 22 else (1, 8, 28, 20, 14, 22, 0))
            if age >= 25 and rng.random() < 0.01:
                edu = "9"
        else:
            edu = rng.pick("12345", (12, 40, 28, 14, 6))
        literate = "2" if edu == "1" and rng.random() < 0.7 else "1"
        return edu, literate

    def _person(self, rel: str, age: int, sex: str, surname: str | None, area: str) -> Person:
        rng = self.rng
        born = _DATE_OF_ORDINAL(_YEAR_START_ORDINAL[age] + rng.randint(0, 364))  # self._birth(age)
        self.n_people += 1
        p = Person(names.full_name(rng, sex, surname), sex, born, rel, area, self.ids.new(area, born, sex),
                   pid=self.n_people)
        if rng.random() >= 0.985:
            p.ethnicity = rng.choice(MINORITIES)
        p.education, p.literate = self._education(age)
        p.long = self._long(p, age)  # everyone's answers are known to the truth; only the 10% sample is asked
        return p

    def _origin(self, county: str) -> tuple[str, str, str | None]:
        """(hukou_place, area code, hukou county in the city or None) for a newcomer here."""
        r = self.rng.random()
        if r < 0.16:
            return "3", county, county
        if r < 0.34:
            other = self.rng.choice([c for c in self.counties if c != county])
            return "4", other, other
        if r < 0.50:
            return "4", self.rng.choice(ZHEJIANG_ORIGINS), None
        return "4", self.rng.pick(*_OTHER_PROVINCE_TABLE), None

    def _family(self, ea: EA) -> list[Person]:
        rng = self.rng
        size = rng.pick(*_FAMILY_SIZE_TABLE)
        local = rng.random() < (0.55 if is_district(ea.county) else 0.8)
        if local:
            place, area, hk_county = "1", ea.county, ea.county
            if rng.random() < 0.1:
                area = rng.choice(CITY_BIRTH_AREAS_EXTRA)
        else:
            place, area, hk_county = self._origin(ea.county)
        surname = names.surname(rng)
        head_sex = "1" if rng.random() < 0.62 else "2"
        other = "2" if head_sex == "1" else "1"
        roles: list[tuple[str, int, str]] = []
        if size == 1:
            age = rng.choice((rng.randint(20, 40), rng.randint(20, 60), rng.randint(60, 92)))
            roles = [("0", age, rng.choice("12"))]
        elif size == 2:
            kind = rng.random()
            h = rng.choice((rng.randint(23, 45), rng.randint(45, 88)))
            if kind < 0.7:
                roles = [("0", h, head_sex), ("1", max(18, h + rng.randint(-5, 3)), other)]
            elif kind < 0.9:
                h = max(h, 36)
                roles = [("0", h, head_sex), ("2", max(0, h - rng.randint(22, 36)), rng.choice("12"))]
            else:
                h = min(max(h, 30), 62)
                roles = [("0", h, head_sex), ("3", h + rng.randint(24, 32), rng.choice("12"))]
        else:
            has_grand = size >= 5 and rng.random() < 0.5
            h = rng.randint(50, 72) if has_grand else rng.randint(30, 58)
            roles = [("0", h, head_sex), ("1", max(20, h + rng.randint(-4, 3)), other)]
            n_left = size - 2
            if has_grand:
                c = max(20, h - rng.randint(24, 32))
                roles += [("2", c, rng.choice("12")), ("6", c + rng.randint(-2, 2), rng.choice("12"))]
                n_left -= 2
                for _ in range(n_left):
                    roles.append(("7", max(0, c - rng.randint(22, 34)), rng.choice("12")))
            else:
                n_parents = 0
                if size >= 4 and rng.random() < 0.4:
                    n_parents = 1 if size == 4 or rng.random() < 0.5 else 2
                for _ in range(n_left - n_parents):
                    roles.append(("2", max(0, h - rng.randint(23, 38)), rng.choice("12")))
                for i in range(n_parents):
                    roles.append(("3", min(100, h + rng.randint(24, 32)), "1" if i == 0 else "2"))
        people = []
        for rel, age, sex in roles:
            fam = surname if rel in ("0", "2", "3", "7") and not (rel == "0" and sex == "2") else None
            p = self._person(rel, age, sex, fam, area)
            p.hukou_place, p.hukou_county = place, hk_county
            self._set_hukou(p, ea, local)
            people.append(p)
        if size >= 2 and rng.random() < 0.004 and people[-1].rel == "2":
            twin = self._person("2", people[-1].age, rng.choice("12"), surname, people[-1].area)
            twin.born = people[-1].born
            twin.id_number = self.ids.new(twin.area, twin.born, twin.sex)
            twin.hukou_place, twin.hukou_county = people[-1].hukou_place, people[-1].hukou_county
            self._set_hukou(twin, ea, local)
            people.append(twin)
            self.truth.defects["twins"] += 1
        return people

    def _set_hukou(self, p: Person, ea: EA, local: bool) -> None:
        rng = self.rng
        if local:
            p.hukou_place = "1" if rng.random() < 0.85 else "2"
            p.duration, p.reason = ("1", None) if p.hukou_place == "1" else (rng.choice("3456789"), "4")
            p.hukou_township = ea.township
            return
        p.duration = rng.pick(("2", "3", "4", "5", "6", "7", "8", "9", "10"), (4, 8, 12, 12, 10, 9, 9, 20, 16))
        p.reason = rng.pick(("1", "2", "3", "4", "6", "7", "8", "10"), (55, 3, 18, 6, 6, 4, 4, 4))
        if p.age < 15:
            p.reason = "3"
        if p.hukou_place == "4":
            p.hukou_region_code = p.hukou_county or p.area
        if p.hukou_county:
            key = (p.hukou_county, ea.township)
            choices = self._other_townships.get(key)
            if choices is None:  # townships_of is settled before any household is drawn
                towns = self.townships_of[p.hukou_county] or [ea.township]
                choices = self._other_townships[key] = [t for t in towns if t != ea.township] or towns
            p.hukou_township = rng.choice(choices)

    def _collective(self, ea: EA) -> list[Person]:
        rng = self.rng
        size = rng.pick(*_COLLECTIVE_SIZE_TABLE)
        kind = rng.random()
        people = []
        for i in range(size):
            if kind < 0.15:  # care home
                age, sex = rng.randint(70, 98), rng.choice("122")
            elif kind < 0.45:  # student dormitory
                age, sex = rng.randint(18, 24), rng.choice("12")
            else:  # workers' dormitory
                age, sex = rng.randint(18, 45), rng.choice("112")
            place, area, hk_county = ("1", ea.county, ea.county) if kind < 0.15 else self._origin(ea.county)
            p = self._person("0" if i == 0 else "9", age, sex, None, area)
            p.hukou_place, p.hukou_county = place, hk_county
            self._set_hukou(p, ea, place == "1")
            if kind >= 0.15 and kind < 0.45:
                p.education, p.literate, p.reason = rng.choice("667"), "1", "2"
            people.append(p)
        return people

    def _non_citizen(self, ea: EA, collective: bool) -> Person:
        """A resident of Hong Kong, Macao or Taiwan (id_type 2) or a foreigner (3): enumerated, not
        part of the resident population, counted in b8."""
        rng = self.rng
        sex = rng.choice("12")
        p = self._person("9", rng.randint(20, 60), sex, None, ea.county)
        p.id_type = rng.choice("223")
        letter = {"2": rng.choice("HMT"), "3": rng.choice("EGP")}[p.id_type]
        p.id_number = f"{letter}{rng.randrange(10**8):08d}"
        while p.id_number in self.foreign_ids:  # passport-like numbers are drawn: never the same twice
            p.id_number = f"{letter}{rng.randrange(10**8):08d}"
        self.foreign_ids.add(p.id_number)
        p.name = p.name if p.id_type == "2" else rng.choice(("SMITH JOHN", "KIM MINJUN", "TANAKA YUKI", "MULLER ANNA"))
        p.hukou_place, p.hukou_region_code, p.duration, p.reason = "5", None, "1", None
        p.hukou_county = p.hukou_township = None
        return p

    def _absent(self, ea: EA, head: Person) -> list[Person]:
        """Members registered here but living elsewhere (H3 part 2)."""
        rng = self.rng
        out = []
        for _ in range(rng.choice((1, 1, 2))):
            age = rng.randint(18, max(19, head.age - 20)) if head.age > 40 else rng.randint(18, 40)
            p = self._person(rng.choice("289"), age, rng.choice("12"), None, head.area)
            p.hukou_place, p.hukou_county, p.hukou_township = "1", ea.county, ea.township
            r = rng.random()
            if r < 0.12:
                p.residence, p.duration, p.reason = rng.choice("2345"), "2", "1"  # away < 6 months: counts here
            elif r < 0.20:
                p.residence, p.duration, p.reason = "6", rng.choice("345"), rng.choice("12")  # abroad, work/study
            elif r < 0.24:
                p.residence, p.duration, p.reason = "6", rng.choice("3459"), "3"  # abroad, other reason
            else:
                p.residence, p.duration = "5", rng.choice("3456789")  # another county, outside the city
                p.reason = rng.choice("1126")
            out.append(p)
        return out

    def _long(self, p: Person, age: int | None = None) -> dict:
        rng = self.rng
        if age is None:
            age = p.age
        marital = worked_last_week = industry = occupation = children = health = None
        if age >= 15:
            marital = "1" if age < 22 else rng.pick("1234", (10, 80, 5, 5) if age < 65 else (10, 80, 5, 30))
        if age >= 16:
            worked = age < 60 and rng.random() < 0.8
            worked_last_week = "1" if worked else "2"
            if worked:
                industry = rng.pick("ACEFGHIKMO", (4, 30, 8, 14, 6, 6, 8, 4, 5, 15))
                occupation = rng.choice("1234568")
        if p.sex == "2" and 15 <= age <= 64:
            children = 0 if age < 22 else rng.choice((0, 1, 1, 1, 2, 2))
        if age >= 60:
            health = rng.pick("1234", (55, 30, 12, 3))
        return {"marital_status": marital, "worked_last_week": worked_last_week, "industry_section": industry,
                "occupation_major": occupation, "children_ever_born": children, "health": health}

    # -- submissions -------------------------------------------------------------------

    def _person_json(self, p: Person, line_no: int, long_form: bool) -> dict:
        return {
            "line_no": line_no, "name": p.name, "relationship": p.rel, "id_type": p.id_type,
            "id_number": p.form_id if p.form_id is not None else p.id_number,
            "sex": p.form_sex or p.sex, "birth_ym": p.form_birth_ym or _ym(p.born),
            "ethnicity": p.ethnicity, "residence": p.residence, "hukou_place": p.hukou_place,
            "hukou_region_code": p.hukou_region_code, "left_hukou_duration": p.duration,
            "left_hukou_reason": p.reason, "education": p.education, "literate": p.literate,
            "long": dict(p.long) if long_form else None,
        }

    def _submission(self, hh: dict, persons: list[Person], *, channel: str, form: str, status: str,
                    at: dt.datetime, partial: bool = False) -> dict:
        n_resident = [p.residence for p in persons].count("1")
        person_json, long_form = self._person_json, form == "long"
        lines = [person_json(p, i, long_form) for i, p in enumerate(persons, 1)]
        if partial:  # an incomplete self-enumeration: items left blank or missing
            for ln in lines:
                for k in ("education", "ethnicity", "literate"):
                    if self.rng.random() < 0.5:
                        ln.pop(k, None)
        family = hh["type"] == "1"
        sid = uuid_str(self.rng.getrandbits(128))
        self.listed[sid] = persons  # who this form lists, for the register truth
        return {
            "submission_id": sid, "channel": channel, "form": form,
            "status": status, "submitted_at": at.isoformat(timespec="seconds"),
            "enumerator_id": None if channel == "self" else hh["enumerator"],
            "device_id": f"PAD-{self.rng.randrange(16**4):04X}" if channel == "pad" else None,
            "household_id": hh["id"], "ea_code": hh["ea"].code, "household_type": hh["type"],
            "address": hh["address"], "h_resident_count": n_resident + hh.get("omitted", 0),
            "h_hukou_absent_count": len(persons) - n_resident,
            "h_births_male": hh["births"][0] if family else None, "h_births_female": hh["births"][1] if family else None,
            "h_deaths_male": hh["deaths_n"][0] if family else None, "h_deaths_female": hh["deaths_n"][1] if family else None,
            "h_floor_area_m2": round(self.rng.uniform(25, 180), 1) if family else None,
            "h_rooms": self.rng.randint(1, 6) if family else None,
            "persons": lines, "deaths": hh["deaths"] if family else [],
        }

    def run(self, progress: Callable[[int], None] | None = None) -> dict:
        if self.out.exists() and any(self.out.iterdir()):
            raise FileExistsError(f"{self.out} is not empty; choose an empty or new folder")
        self.out.mkdir(parents=True, exist_ok=True)
        for sub in ("frame", "uploads/pad", "uploads/self", "admin/hukou", "admin/births", "admin/deaths"):
            (self.out / sub).mkdir(parents=True, exist_ok=True)
        geography = build_geography(self.rng, self.n_households, self.min_township_households)
        for ea, _ in geography:
            if ea.township not in self.townships_of[ea.county]:
                self.townships_of[ea.county].append(ea.township)
        self.pes_eas = pes_sample(self.pes_rng, [ea for ea, _ in geography], self.rates.pes_ea_fraction)
        parts = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.parts-", dir=self.out.parent))
        try:
            tasks = []
            for k, county in enumerate(self.counties, 1):
                eas = [(ea, n) for ea, n in geography if ea.county == county]
                if eas:
                    tasks.append(CountyTask(k, county, eas, {c.code for c, _ in eas} & self.pes_eas, parts))
            results = self._run_counties(tasks, progress)
            self._merge(results, parts)
        finally:
            shutil.rmtree(parts, ignore_errors=True)
        self._in_flight_files()
        self._omissions_truth()
        self._coverage_truth()
        return self.truth.as_dict()

    def _run_counties(self, tasks: list[CountyTask], progress: Callable[[int], None] | None) -> list[dict]:
        if self.workers == 1 or len(tasks) == 1:
            return [self._county(t, progress) for t in tasks]
        import multiprocessing

        # fork: the workers share this process's string-hash secret, which the omission
        # check's hashes of (name, sex, birth date) rely on; biggest counties first
        order = sorted(tasks, key=lambda t: -sum(n for _, n in t.eas))
        results = {}
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(min(self.workers, len(tasks))) as pool:
            for res in pool.imap_unordered(self._county_in_worker, order):
                results[res["k"]] = res
                if progress:
                    progress(res["households"])
        return [results[t.k] for t in tasks]

    def _county_in_worker(self, task: CountyTask) -> dict:
        return self._county(task, None)

    def _county(self, task: CountyTask, progress: Callable[[int], None] | None) -> dict:
        """Draw one county's households into its batch files and its parts; return its truth."""
        g = Generator(self.out, self.n_households, self.seed, self.rates, self.batch_size,
                      self.min_township_households, self.pes_seed)
        g.townships_of = self.townships_of
        g.pes_eas = task.pes_eas
        g.rng = FastRandom(stream_seed("census", self.seed, task.county))
        g.pes_rng = FastRandom(stream_seed("pes", self.pes_seed, task.county))
        g.ids = IdAllocator(home=task.county, slot=task.k - 1)
        g.n_people = task.k * PERSONS_PER_COUNTY
        rng, rates, k = g.rng, g.rates, task.k
        g.batches = BatchWriter(g.out, rng, rates, g.batch_size, g.truth)
        g.pes_batches = BatchWriter(g.out, g.pes_rng, rates, g.batch_size, g.truth, folder="pes")
        g.links = TruthLinks(task.parts / f"links_{k:02d}.csv.gz", header=False)
        g.registers = RegisterWriter(task.parts, rng, rates, g.truth, g.ids, g.links, k)
        frame_f = open(task.parts / f"frame_{k:02d}.csv", "w", encoding="utf-8", newline="")
        g.frame = csv.writer(frame_f, lineterminator="\n")
        pending: dict | None = None
        households = 0
        for ea, n in task.eas:
            for dwelling in range(1, n + 1):
                hh = g._household(ea, dwelling)
                if pending is not None:
                    g._maybe_duplicate(pending, hh)
                    g._emit(pending)
                pending = hh
                households += 1
                if progress:
                    progress(1)
        if pending is not None:
            g._emit(pending)
        g.batches.finish()
        g.pes_batches.finish()
        rows = g.registers.finish()
        g.links.close()
        frame_f.close()
        if g.n_people >= (k + 1) * PERSONS_PER_COUNTY:
            raise OverflowError(f"county {task.county}: more than {PERSONS_PER_COUNTY:,} persons")
        t = g.truth
        t.bad_lines.clear()
        return {
            "k": k, "households": households, "frame_rows": g.frame_rows, "register_rows": rows,
            "files": t.files, "defects": t.defects, "county": dict(t.county), "township": dict(t.township),
            "quarantine_reasons": t.quarantine_reasons, "submissions": t.submissions, "follow_up": t.follow_up,
            "pes": t.pes, "unfound": g.registers.unfound,
            "census_by_date": g.census_by_date.tobytes(), "census_by_month": g.census_by_month.tobytes(),
            "id_cell_max": g.ids.max_used(),
        }

    def _merge(self, results: list[dict], parts: Path) -> None:
        """Join the counties' parts in county order, and add up their truth."""
        t = self.truth
        for r in results:  # county order
            t.files.update(r["files"])
            t.defects.update(r["defects"])
            for c, counts in r["county"].items():
                t.county[c].update(counts)
            for tw, counts in r["township"].items():
                t.township[tw].update(counts)
            t.quarantine_reasons.update(r["quarantine_reasons"])
            t.follow_up.update(r["follow_up"])
            t.pes.update(r["pes"])
            t.submissions += r["submissions"]
            self.unfound.extend(r["unfound"])
            self.census_by_date.frombytes(r.pop("census_by_date"))  # 8 bytes a person: do not hold them twice
            self.census_by_month.frombytes(r.pop("census_by_month"))
            self.frame_rows += r["frame_rows"]
        self.id_cell_max = {}  # the fullest ID sequence cell by kind of area: (numbers used, part)
        for r in results:
            for kind, used in r["id_cell_max"].items():
                self.id_cell_max[kind] = max(self.id_cell_max.get(kind, used), used)
        ks = [r["k"] for r in results]

        def join(rel: str, part: str, header: bytes, rows: int) -> None:
            with open(self.out / rel, "wb") as f:
                f.write(header)
                for k in ks:
                    with open(parts / part.format(k=k), "rb") as src:
                        shutil.copyfileobj(src, f, 1 << 20)
            t.files[rel] = {"received": rows, "ingested": rows, "quarantined": 0}

        frame_header = "household_id,ea_code,urban_rural_code,address,household_type,expected_persons,listed_on\n"
        join("frame/listing.csv", "frame_{k:02d}.csv", frame_header.encode(), self.frame_rows)
        hukou_header = ",".join(HUKOU_COLUMNS) + "\n"
        for name, part, header in (
            (f"admin/hukou/hukou_{EXTRACTED_ON}_part1.csv", "hukou1_{k:02d}.csv", hukou_header.encode()),
            (f"admin/hukou/hukou_{EXTRACTED_ON}_part2.csv", "hukou2_{k:02d}.csv",
             ("# encoding: gb18030\n" + hukou_header).encode("gb18030")),
            (f"admin/hukou/hukou_{UPDATE_EXTRACTED_ON}_update.csv", "update_{k:02d}.csv", hukou_header.encode()),
            ("admin/births/births_2020-11-10.csv", "births_{k:02d}.csv", (",".join(BIRTH_COLUMNS) + "\n").encode()),
            ("admin/deaths/deaths_2020-11-10.csv", "deaths_{k:02d}.csv", (",".join(DEATH_COLUMNS) + "\n").encode()),
        ):
            join(name, part, header, sum(r["register_rows"][part.split("_")[0]] for r in results))
        # gzip members one after another are one gzip file (RFC 1952); the header is the first
        links = truth_links_path_for(self.out)
        with open(links, "wb") as f:
            f.write(gzip.compress(b"record_type,record_key,person\n", compresslevel=1, mtime=0))
            for k in ks:
                with open(parts / f"links_{k:02d}.csv.gz", "rb") as src:
                    shutil.copyfileobj(src, f, 1 << 20)

    frame_rows = 0

    def _in_flight_files(self) -> None:
        """Files still being written when the pipeline looks: to be left alone."""
        day = self.out / "uploads/pad/2020-11-30"
        day.mkdir(parents=True, exist_ok=True)
        (day / "inflight-batch.jsonl.part").write_text('{"submission_id": "in-flight", "chan', encoding="utf-8")
        (day / "upload.jsonl.tmp").write_text("{}\n", encoding="utf-8")
        (day / ".hidden-batch.jsonl").write_text("{}\n", encoding="utf-8")
        self.truth.defects["in_flight_files"] = 3

    def _household(self, ea: EA, dwelling: int) -> dict:
        rng, rates = self.rng, self.rates
        collective = rng.random() < COUNTY_COLLECTIVE_SHARE[ea.county]
        persons = self._collective(ea) if collective else self._family(ea)
        village = ea.code[:12]
        enumerator = self.enumerators.setdefault(ea.code, f"E{village}{rng.randint(1, 9):03d}")
        hh = {
            "id": f"H{ea.code}{dwelling:04d}", "ea": ea, "type": "2" if collective else "1",
            "address": f"杭州市{counties()[ea.county]}某街道某路{rng.randint(1, 300)}号{dwelling}室",
            "persons": persons, "enumerator": enumerator, "births": [0, 0], "deaths_n": [0, 0], "deaths": [],
            "omitted": 0, "extra_records": [],
        }
        if not collective:
            self._family_events(hh)
        if rng.random() < rates.hk_macao_taiwan_or_foreign:
            persons.append(self._non_citizen(ea, collective))
        if not collective and persons[0].hukou_place == "1" and rng.random() < 0.15:
            persons.extend(self._absent(ea, persons[0]))
        for p in persons:
            self._item_defects(p)
        if rng.random() < rates.omitted_person and len(persons) >= 2 and persons[-1].residence == "1":
            omitted = persons.pop()
            hh["omitted"] = 1
            hh["omitted_person"] = omitted
        hh["forgotten"] = self._forgotten(hh)
        return hh

    def _forgotten(self, hh: dict) -> list[Person]:
        """Residents the household leaves off the form without a trace (not in H3 either): the
        census's silent misses, likelier for infants, the very old, lodgers and migrants."""
        rng, base, kept, gone = self.rng, self.rates.census_miss_person, [], []
        for i, p in enumerate(hh["persons"]):
            if i == 0 or not is_true_resident(p):
                kept.append(p)
                continue
            odds = base * (4 if p.age == 0 else 2 if p.age >= 80 else 1) * (4 if p.rel in "89" else 1) \
                * (2 if p.hukou_place == "4" else 1)
            (gone if rng.random() < odds else kept).append(p)
        hh["persons"][:] = kept
        self.truth.defects["persons_forgotten_by_census"] += len(gone)
        return gone

    def _family_events(self, hh: dict) -> None:
        """Births in the last year (and after the standard time), deaths in the last year."""
        rng, persons = self.rng, hh["persons"]
        mother = next((p for p in persons if p.sex == "2" and 22 <= p.age <= 42 and p.rel in "01"), None)
        if mother and rng.random() < 0.06:
            sex = rng.choice("12")
            born = dt.date(2019, 11, 1) + dt.timedelta(days=rng.randint(0, 365))
            baby = self._person("2" if mother.rel in "01" else "7", 0, sex, persons[0].name[0], persons[0].area)
            baby.born = born
            baby.id_number = self.ids.new(baby.area, born, sex)
            baby.hukou_place, baby.hukou_county, baby.hukou_township = persons[0].hukou_place, persons[0].hukou_county, persons[0].hukou_township
            baby.hukou_region_code, baby.duration, baby.reason = persons[0].hukou_region_code, persons[0].duration, persons[0].reason
            if rng.random() < 0.3:
                baby.id_type, baby.id_number = "9", None  # not yet registered
                if baby.hukou_place == "1":
                    baby.hukou_place, baby.hukou_township = "5", None  # hukou pending
            persons.append(baby)
        elif mother and rng.random() < self.rates.born_after_standard_time:
            born = dt.date(2020, 11, 1) + dt.timedelta(days=rng.randint(0, 4))
            baby = self._person("2", 0, rng.choice("12"), persons[0].name[0], persons[0].area)
            baby.born, baby.id_type, baby.id_number = born, "9", None
            baby.hukou_place, baby.duration, baby.reason = "5", "1", None
            baby.education = baby.literate = None
            persons.append(baby)
            hh["born_after"] = True
            self.truth.defects["born_after_standard_time"] += 1
        self._births_in_the_year(hh)
        if rng.random() < 0.012:
            sex = rng.choice("12")
            age = rng.randint(60, 95)
            died = dt.date(2019, 11, 1) + dt.timedelta(days=rng.randint(0, 365))
            dead = self._person("3", age, sex, None, persons[0].area)
            hh["deaths_n"][0 if sex == "1" else 1] += 1
            hh["deaths"].append({"name": dead.name, "sex": sex, "birth_ym": _ym(dead.born),
                                 "death_ym": _ym(died), "id_number": dead.id_number})
            self.registers.death(dead, died, hh["ea"].county)

    def _births_in_the_year(self, hh: dict) -> None:
        """Every infant born 2019-11-01 .. 2020-10-31 is a birth of the household (H4) and has a
        hospital birth record, the mother being the household's youngest adult woman."""
        persons = hh["persons"]
        women = sorted((p for p in persons if p.sex == "2" and 18 <= p.age <= 49), key=lambda p: p.age)
        for p in persons:
            if dt.date(2019, 11, 1) <= p.born <= dt.date(2020, 10, 31):
                hh["births"][0 if p.sex == "1" else 1] += 1
                self.registers.birth(p, women[0] if women else persons[0], hh["ea"].county)

    def _item_defects(self, p: Person) -> None:
        rng, rates = self.rng, self.rates
        if p.id_number is None or p.id_type != "1":
            return
        r = rng.random()
        if r < rates.invalid_id:
            p.form_id = corrupt_id(rng, p.id_number)
            self.truth.defects["invalid_id_numbers"] += 1
        elif r < rates.invalid_id + rates.id_contradiction:
            if rng.random() < 0.5:
                p.form_sex = "2" if p.sex == "1" else "1"
                self.truth.defects["sex_contradicts_id"] += 1
            else:
                shifted = p.born.replace(day=1) + dt.timedelta(days=rng.choice((-20, 40)))
                p.form_birth_ym = _ym(shifted)
                self.truth.defects["birth_month_contradicts_id"] += 1

    def _census_lines(self, members: list[Person]) -> None:
        """Remember how each census line could be found by name + sex + birth date."""
        for p in members:
            if p.id_type == "1" and p.form_id is None and p.id_number:
                self.census_by_date.append(hash((p.name, p.sex, p.born.isoformat())))
            else:
                self.census_by_month.append(hash((p.name, p.form_sex or p.sex, p.form_birth_ym or _ym(p.born))))

    def _register_outcomes(self, hh: dict) -> None:
        """Registrants of this household whom the census does not find directly (by ID, or by the
        name as the register writes it) become candidates for the final name + sex + birth check."""
        for p in hh["registered"]:
            in_census = p.in_census
            by_id = in_census and p.form_id is None and p.register_id == p.id_number
            by_name = in_census and p.register_name == p.name
            if not (by_id or by_name):
                self.registers.unfound.append((p.register_name, p.sex, p.born, p.hukou_township))

    def _omissions_truth(self) -> None:
        """Registrants found nowhere: no census line has their valid ID, nor their name, sex and
        birth date (exact where the line has a valid ID, else the month)."""
        import numpy as np

        # sorted in place, in the arrays' own memory (12 M persons: 96 MB, not twice that)
        by_date = np.frombuffer(self.census_by_date, dtype=np.int64)
        by_date.sort()
        by_month = np.frombuffer(self.census_by_month, dtype=np.int64)
        by_month.sort()

        def contains(sorted_hashes, h: int) -> bool:
            i = np.searchsorted(sorted_hashes, h)
            return bool(i < len(sorted_hashes) and sorted_hashes[i] == h)

        for name, sex, born, township in self.unfound:
            if contains(by_date, hash((name, sex, born.isoformat()))) or contains(by_month, hash((name, sex, _ym(born)))):
                continue
            self.truth.county[township[:6]]["register_persons_not_found"] += 1
            self.truth.township[township]["register_persons_not_found"] += 1
            self.truth.follow_up["register_person_not_found"] += 1

    def _missed(self, hh: dict, people: list[Person]) -> None:
        """Residents the census does not count (a household never enumerated, a person left off):
        the omissions the PES is to estimate."""
        c = self.truth.county[hh["ea"].county]
        for p in people:
            if is_true_resident(p) and p.in_register:
                c["census_missed_residents"] += 1

    def _pes_household(self, hh: dict, everyone: list[Person]) -> None:
        """The PES re-enumerates a sampled EA's households independently: its own misses (a
        household, a person), its own errors (a typo in a name, an ID number not given)."""
        rng, rates = self.pes_rng, self.rates
        if rng.random() < rates.pes_miss_household:
            self.truth.pes["households_missed_by_pes"] += 1
            return
        found = [p for p in everyone if is_true_resident(p) and p.in_register and rng.random() >= rates.pes_miss_person]
        if not found:
            return
        lines = []
        for i, p in enumerate(found, 1):
            no_id = rng.random() < rates.pes_id_missing
            lines.append({
                "line_no": i, "name": names.typo(rng, p.name) if rng.random() < rates.pes_name_typo else p.name,
                "relationship": p.rel, "id_type": "9" if no_id else p.id_type,
                "id_number": None if no_id else p.id_number, "sex": p.sex, "birth_ym": _ym(p.born),
                "ethnicity": p.ethnicity, "residence": p.residence, "hukou_place": p.hukou_place,
                "hukou_region_code": p.hukou_region_code, "left_hukou_duration": p.duration,
                "left_hukou_reason": p.reason, "education": p.education, "literate": p.literate, "long": None,
            })
        at = _ts(rng, dt.date(2020, 12, 1), dt.date(2020, 12, 10))
        sub = {
            "submission_id": uuid_str(rng.getrandbits(128)), "channel": "pes", "form": "short",
            "status": "final", "submitted_at": at.isoformat(timespec="seconds"),
            "enumerator_id": "Q" + hh["ea"].code[:12] + "001", "device_id": None,
            "household_id": hh["id"], "ea_code": hh["ea"].code, "household_type": hh["type"],
            "address": hh["address"], "h_resident_count": sum(1 for ln in lines if ln["residence"] == "1"),
            "h_hukou_absent_count": 0, "h_births_male": None, "h_births_female": None, "h_deaths_male": None,
            "h_deaths_female": None, "h_floor_area_m2": None, "h_rooms": None, "persons": lines, "deaths": [],
        }
        self.pes_batches.write("pes", at.date().isoformat(), _json_line(sub), good=True)
        self.links.pes(sub["submission_id"], found)
        self.truth.pes["households"] += 1
        self.truth.pes["persons"] += len(found)

    def _coverage_truth(self) -> None:
        """The true net omission rate: residents missed / (persons counted + residents missed)."""
        counted = sum(c.get("population", 0) for c in self.truth.county.values())
        missed = sum(c.get("census_missed_residents", 0) for c in self.truth.county.values())
        self.truth.pes["enumeration_areas"] = len(self.pes_eas)
        self.truth.pes["census_counted"] = counted
        self.truth.pes["census_missed_residents"] = missed
        self.truth.pes["true_population"] = counted + missed
        self.truth.pes["net_omission_rate_pct"] = round(100 * missed / (counted + missed), 4) if counted else None

    def _maybe_duplicate(self, a: dict, b: dict) -> None:
        """Plant one of a's residents as a resident of b too (counted in two households)."""
        if self.rng.random() >= self.rates.duplicate_person:
            return
        candidates = [p for p in a["persons"] if p.residence == "1" and p.id_type == "1" and p.form_id is None
                      and counts_here_cached(p.residence, p.hukou_place, p.duration, p.reason)[0] and p.age >= 3]
        if not candidates:
            return
        p = self.rng.choice(candidates)
        copy = dataclasses.replace(p, rel="9" if b["type"] == "2" else "8", in_register=False)
        if b["ea"].township != a["ea"].township and copy.hukou_place in ("1", "2"):
            copy.hukou_place = "3" if b["ea"].county == a["ea"].county else "4"
            copy.hukou_region_code = a["ea"].county if copy.hukou_place == "4" else None
            copy.duration, copy.reason = "4", "3"
        b["persons"].append(copy)
        b["dup_of"] = (a, p, copy)
        a["dup_src"] = True
        self.truth.defects["persons_counted_twice"] += 1

    # -- writing -----------------------------------------------------------------------

    def _emit(self, hh: dict) -> None:
        """Write a household's listing row, submissions and register rows, and count its truth."""
        rng, rates = self.rng, self.rates
        ea, persons = hh["ea"], hh["persons"]
        listed = rng.random() >= rates.unlisted_household
        if listed:
            expected = sum(1 for p in persons if p.residence == "1") + hh["omitted"] + rng.choice((0, 0, 0, 1, -1))
            self.frame.writerow([hh["id"], ea.code, ea.urban_rural, hh["address"], hh["type"], max(1, expected),
                                 "2020-10-" + str(rng.randint(10, 28))])
            self.frame_rows += 1
        else:
            self.truth.defects["unlisted_households"] += 1
        missing = listed and "dup_of" not in hh and "dup_src" not in hh and rng.random() < rates.missing_household
        everyone = persons + ([hh["omitted_person"]] if "omitted_person" in hh else []) + hh["forgotten"]
        for p in everyone:
            self.registers.person(p)
        if "omitted_person" in hh:
            self.truth.defects["omitted_persons"] += 1
        hh["registered"] = [p for p in everyone if p.register_no]
        if hh["ea"].code in self.pes_eas:
            self._pes_household(hh, everyone)
        if missing:
            self._missed(hh, everyone)
            self._register_outcomes(hh)
            self.truth.defects["missing_households"] += 1
            self.truth.county[ea.county]["listed_households"] += 1
            self.truth.county[ea.county]["missing_households"] += 1
            self.truth.follow_up["missing_household"] += 1
            return
        auth, members = self._write_submissions(hh)
        hh["auth"] = auth
        self._missed(hh, ([hh["omitted_person"]] if "omitted_person" in hh else []) + hh["forgotten"])
        self.links.census(auth["submission_id"], members)
        self._census_lines(members)
        for p in members:
            p.in_census = True
        if hh["omitted"]:
            self.truth.follow_up["fewer_person_lines_than_h3"] += 1
        c = self.truth.county[ea.county]
        c["listed_households"] += 1 if listed else 0
        c["enumerated_households"] += 1
        self._count(hh, auth)
        self._register_outcomes(hh)
        if rng.random() < rates.register_only:
            self.registers.register_only(ea)
        if rng.random() < rates.outside_area:
            self._outside_area(hh)

    def _write_submissions(self, hh: dict) -> dict:
        """All submissions of a household; returns the authoritative one (rules.md)."""
        rng, rates = self.rng, self.rates
        persons = hh["persons"]
        long_form = rng.random() < rates.long_form
        subs: list[dict] = []
        born_after = hh.get("born_after", False)
        early = [p for p in persons if p.born < STANDARD_DAY]

        r = rng.random()
        if r < rates.pre_registration:
            subs.append(self._submission(hh, early, channel="pad", form="short", status="pre_registration",
                                         at=_ts(rng, dt.date(2020, 10, 11), dt.date(2020, 10, 31))))
        elif r < rates.pre_registration + rates.partial_self:
            subs.append(self._submission(hh, early, channel="self", form="short", status="partial",
                                         at=_ts(rng, dt.date(2020, 10, 11), dt.date(2020, 11, 1)), partial=True))
        no_final = not born_after and "dup_of" not in hh and "dup_src" not in hh and rng.random() < rates.no_final
        if no_final:
            if not subs:  # complete items: the truth stays exact (imputed values are not predictable)
                subs.append(self._submission(hh, persons, channel="self", form="short", status="partial",
                                             at=_ts(rng, dt.date(2020, 10, 20), dt.date(2020, 11, 4))))
            elif subs[0]["status"] == "partial":
                subs[0] = self._submission(hh, early, channel="self", form="short", status="partial",
                                           at=dt.datetime.fromisoformat(subs[0]["submitted_at"]))
            self.truth.follow_up["no_final_submission"] += 1
            self.truth.defects["households_without_final"] += 1
        elif long_form and not born_after:
            subs.append(self._submission(hh, persons, channel="pad", form="long", status="final",
                                         at=_ts(rng, dt.date(2020, 11, 1), dt.date(2020, 11, 12))))
            self.truth.defects["long_form_households"] += 1
            if rng.random() < rates.short_after_long:
                late = _ts(rng, dt.date(2020, 11, 13), dt.date(2020, 11, 20))
                subs.append(self._submission(hh, persons[:1], channel="pad", form="short", status="final", at=late))
                self.truth.defects["short_final_after_long"] += 1
        elif not born_after and rng.random() < rates.self_final:
            subs.append(self._submission(hh, persons, channel="self", form="short", status="final",
                                         at=_ts(rng, dt.date(2020, 10, 11), dt.date(2020, 11, 5))))
        else:
            last = dt.date(2020, 11, 30) if rng.random() < 0.02 else dt.date(2020, 11, 15)
            if born_after:
                first = dt.date(2020, 11, 6)
                last = max(last, first)
            else:
                first = dt.date(2020, 11, 1)
            subs.append(self._submission(hh, persons, channel="pad", form="short", status="final",
                                         at=_ts(rng, first, last)))
        if len(subs) > 1 and subs[0]["status"] != "final":
            self.truth.defects[f"superseded_{subs[0]['status']}"] += 1
        auth = _authoritative(subs)
        for s in subs:
            self._deliver(s)
        members = self.listed[auth["submission_id"]]
        self.listed.clear()
        for line, p in zip(auth["persons"], members, strict=True):  # after delivery: never written out
            line["_long_truth"] = p.long
        return auth, members

    def _deliver(self, sub: dict) -> None:
        rng, rates = self.rng, self.rates
        day = sub["submitted_at"][:10]
        upload = _next_day(day) if rng.random() < 0.1 else day
        line = _json_line(sub)
        if rng.random() < rates.malformed_line:
            bad, reason = self._corrupt(sub, line)
            self.truth.bad_lines.add(bad.encode("utf-8", "surrogateescape"))
            self.truth.quarantine_reasons[reason] += 1
            self.batches.write(sub["channel"], upload, bad, good=False)
        self.batches.write(sub["channel"], upload, line, good=True)
        self.truth.submissions += 1
        if rng.random() < rates.conflicting_redelivery and upload < "2020-11-30":
            changed = dict(sub, address=sub["address"] + "（更正）")
            later = (dt.date.fromisoformat(upload) + dt.timedelta(days=1)).isoformat()
            conflict = _json_line(changed)
            self.truth.bad_lines.add(conflict.encode("utf-8"))
            self.batches.write(sub["channel"], later, conflict, good=False)
            self.truth.quarantine_reasons["conflicting_redelivery"] += 1
            self.truth.defects["conflicting_redeliveries"] += 1

    def _corrupt(self, sub: dict, line: str) -> tuple[str, str]:
        """A malformed copy of a line, and the kind of defect."""
        kind = self.rng.choice(("truncated_json", "missing_key", "wrong_type", "bad_status", "persons_not_array",
                                "not_object", "invalid_utf8", "null_required"))
        if kind == "truncated_json":
            return line[: self.rng.randint(10, max(11, len(line) - 10))], kind
        if kind == "missing_key":
            return json.dumps({k: v for k, v in sub.items() if k != "household_id"}, ensure_ascii=False), kind
        if kind == "wrong_type":
            return json.dumps(dict(sub, h_resident_count=str(sub["h_resident_count"])), ensure_ascii=False), kind
        if kind == "bad_status":
            return json.dumps(dict(sub, status="draft"), ensure_ascii=False), kind
        if kind == "persons_not_array":
            return json.dumps(dict(sub, persons={"line_no": 1}), ensure_ascii=False), kind
        if kind == "not_object":
            return json.dumps([sub["submission_id"]]), kind
        if kind == "null_required":
            return json.dumps(dict(sub, address=None), ensure_ascii=False), kind
        # a byte that is not UTF-8 in the middle of the address
        return line.replace(sub["address"], sub["address"][:3] + "\udcff" + sub["address"][3:], 1), kind

    def _outside_area(self, hh: dict) -> None:
        """A submission from an EA of another city, delivered here by mistake: quarantined."""
        ea_code = OUTSIDE_CITY_CODE + hh["ea"].code[6:]
        sub = self._submission(dict(hh, ea=EA(ea_code, "220", OUTSIDE_CITY_CODE, ea_code[:9]),
                                    id="H" + ea_code + "9999"),
                               hh["persons"][:1], channel="self", form="short", status="final",
                               at=_ts(self.rng, dt.date(2020, 10, 20), dt.date(2020, 11, 5)))
        line = _json_line(sub)
        upload = sub["submitted_at"][:10]
        self.batches.write("self", upload, line, good=False)
        self.truth.bad_lines.add(line.encode("utf-8"))
        self.truth.quarantine_reasons["outside_census_area"] += 1

    def _count(self, hh: dict, auth: dict) -> None:
        """Add the household's counted persons to the truth, after duplicate resolution."""
        winner = None
        if "dup_of" in hh:
            a, p_a, p_b = hh["dup_of"]
            # The record of the person that counts so far: a's, unless p_a is itself the copy
            # planted in a, which may have lost to an earlier record (then the person has three
            # or more records, and one survives of them all).
            holder = a.get("holder_of_copy", a) if "dup_of" in a and a["dup_of"][2] is p_a else a
            winner = _duplicate_survivor(holder["auth"], auth)
            loser = holder if winner == "b" else hh  # the removed record's household
            self.truth.county[loser["ea"].county]["duplicates_removed"] += 1
            if winner == "b":
                self._uncount(holder, p_a)
            hh["holder_of_copy"] = hh if winner == "b" else holder
        counted_lines = []
        for i, line in enumerate(auth["persons"]):
            ok, _flag = counts_here_cached(line.get("residence"), line.get("hukou_place"),
                                    line.get("left_hukou_duration"), line.get("left_hukou_reason"))
            if not ok:
                continue
            if winner == "a" and line.get("id_number") == hh["dup_of"][2].id_number:
                hh.setdefault("removed_lines", set()).add(i)  # for _uncount, should hh lose another record
                continue
            counted_lines.append(line)
        self._add(hh, auth, counted_lines, +1)

    def _uncount(self, hh: dict, p: Person) -> None:
        """Take p's record out of an already counted household (it lost to a duplicate); the
        household stops counting when none of its other lines counts (outputs.md, b1). A line
        counts by _line_counts, as _count and _add count it: not by the residence rule alone (a
        baby born after the standard time, or a person with id_type 2/3, passes that rule and
        does not count), and the other lines are told from p's by position, not by ID number
        (lines without an ID are not p either way). Lines already removed as duplicates (a
        planted copy that lost to its original) neither count nor are taken out twice."""
        auth = hh["auth"]
        persons = auth["persons"]
        removed = hh.setdefault("removed_lines", set())
        mine = [i for i, ln in enumerate(persons)
                if i not in removed and ln.get("id_number") == p.id_number and ln.get("name") == p.name]
        self._add(hh, auth, [persons[i] for i in mine], -1, household_delta=False)
        removed.update(mine)
        if mine and not any(_line_counts(ln) for i, ln in enumerate(persons) if i not in removed):
            key = "family" if hh["type"] == "1" else "collective"
            self.truth.county[hh["ea"].county][f"{key}_households"] -= 1
            self.truth.township[hh["ea"].township]["households"] -= 1

    def _add(self, hh: dict, auth: dict, lines: list[dict], sign: int, household_delta: bool = True) -> None:
        ea = hh["ea"]
        c, t = self.truth.county[ea.county], self.truth.township[ea.township]
        kind = "family" if hh["type"] == "1" else "collective"
        kind_population = f"{kind}_household_population"
        urban = "urban" if ea.urban_rural.startswith("1") else "rural"
        district = is_district(ea.county)
        counted = 0
        for ln in lines:
            get = ln.get
            ident = get("id_number")
            id_type = get("id_type")
            if id_type == "2" or id_type == "3":
                if get("residence") == "1" and tuple(int(x) for x in ln["birth_ym"].split("-")) < (2020, 11):
                    c["hk_macao_taiwan" if id_type == "2" else "foreign"] += sign
                continue
            born = id_birth_date(ident)  # None unless the ID is valid: validated once per line
            if born is not None:
                sex = "1" if int(idnumber.normalise(ident)[16]) % 2 else "2"
                age = _age_on(born)
                if born >= STANDARD_DATE:
                    continue
                born_ym = (born.year, born.month)
            else:
                y, m = (int(x) for x in ln["birth_ym"].split("-"))
                if (y, m) >= (2020, 11):
                    continue
                sex, age = ln["sex"], age_at_standard_time(y, m)
                born_ym = (y, m)
            counted += 1
            c["population"] += sign
            c["census_births"] += sign * ((2019, 11) <= born_ym <= (2020, 10))
            male_female = "male" if sex == "1" else "female"
            c[male_female] += sign
            c[kind_population] += sign
            for key in _AGE_KEYS[min(age, 65)]:
                c[key] += sign
            c[urban] += sign
            c["han" if get("ethnicity") == "01" else "minority"] += sign
            education = get("education")
            edu = int(education) if education else None
            edu_key = _EDU_KEYS.get(edu)
            if edu_key:
                c[edu_key] += sign
            truth_long = get("_long_truth")
            if truth_long:
                if truth_long.get("marital_status"):
                    c["marital_status_" + truth_long["marital_status"]] += sign
                if truth_long.get("worked_last_week"):
                    c["worked_last_week_" + truth_long["worked_last_week"]] += sign
                if truth_long.get("industry_section"):
                    c["industry_" + truth_long["industry_section"]] += sign
            if age >= 15:
                c["persons_15_plus"] += sign
                c["years_of_schooling_15_plus"] += sign * YEARS_OF_SCHOOLING.get(edu, 0)
                c["illiterate_15_plus"] += sign * (get("literate") == "2")
            sep, intra, inter = migration_class_cached(get("residence"), get("hukou_place"), get("left_hukou_duration"),
                                                       get("hukou_region_code"), district)
            c["hukou_separated"] += sign * sep
            c["intra_city_separated"] += sign * intra
            c["inter_provincial_floating"] += sign * inter
            t["population"] += sign
            t[male_female] += sign
        if household_delta and sign > 0 and hh["type"] == "1":
            c["h4_births"] += (auth.get("h_births_male") or 0) + (auth.get("h_births_female") or 0)
            c["h5_deaths"] += (auth.get("h_deaths_male") or 0) + (auth.get("h_deaths_female") or 0)
            c["census_death_forms"] += len(auth.get("deaths") or [])
        if household_delta and counted and sign > 0:
            c[f"{kind}_households"] += 1
            t["households"] += 1


def _line_counts(ln: dict) -> bool:
    """Whether a person line of an authoritative submission counts in its household's township,
    before duplicate removal: what _count (the residence rule) and _add (id_type 2/3 and births
    on or after the standard time left out) count together."""
    if not counts_here_cached(ln.get("residence"), ln.get("hukou_place"), ln.get("left_hukou_duration"),
                              ln.get("left_hukou_reason"))[0]:
        return False
    id_type = ln.get("id_type")
    if id_type == "2" or id_type == "3":
        return False
    born = id_birth_date(ln.get("id_number"))
    if born is not None:
        return born < STANDARD_DATE
    return tuple(int(x) for x in ln["birth_ym"].split("-")) < (2020, 11)


def _authoritative(subs: list[dict]) -> dict:
    if len(subs) == 1:
        return subs[0]
    finals = [s for s in subs if s["status"] == "final"]
    if finals:
        return max(finals, key=lambda s: (s["form"] == "long", dt.datetime.fromisoformat(s["submitted_at"]), s["submission_id"]))
    return max(subs, key=lambda s: (dt.datetime.fromisoformat(s["submitted_at"]), s["submission_id"]))


def _duplicate_survivor(a: dict, b: dict) -> str:
    """Which of two final, residence-1 records survives: the later submission, then the larger id."""
    ka = (dt.datetime.fromisoformat(a["submitted_at"]), a["submission_id"])
    kb = (dt.datetime.fromisoformat(b["submitted_at"]), b["submission_id"])
    return "b" if kb > ka else "a"


HUKOU_COLUMNS = ["person_no", "id_number", "name", "sex", "birth_date", "hukou_region_code", "hukou_township_code",
                 "hukou_address", "status", "extracted_on"]
BIRTH_COLUMNS = ["certificate_no", "child_name", "child_sex", "birth_date", "mother_id_number", "mother_name",
                 "hospital_region_code", "extracted_on"]
DEATH_COLUMNS = ["record_no", "id_number", "name", "sex", "birth_date", "death_date", "region_code", "extracted_on"]
RECORDS_PER_COUNTY = 10**7  # register numbers of county k: P<kk><7 digits>, O<kk>..., D<kk>...


class RegisterWriter:
    """A county's part of the three register extracts, consistent with its population: rows
    without headers in `parts`, joined by the Generator in county order. Record numbers
    carry the county's number (`k`), so they are unique across counties."""

    def __init__(self, parts: Path, rng: random.Random, rates: Rates, truth: Truth, ids: IdAllocator,
                 links: TruthLinks, k: int = 1):
        self.rng, self.rates, self.truth, self.ids, self.links = rng, rates, truth, ids, links
        self.n = 0
        self.prefix = f"{k:02d}"
        self.files = []
        for i, enc in enumerate(("utf-8", "gb18030")):
            f = open(parts / f"hukou{i + 1}_{k:02d}.csv", "w", encoding=enc, newline="")
            self.files.append((f, csv.writer(f, lineterminator="\n"), [0]))
        self.update_f = open(parts / f"update_{k:02d}.csv", "w", encoding="utf-8", newline="")
        self.update = csv.writer(self.update_f, lineterminator="\n")
        self.update_rows = 0
        self.births_f = open(parts / f"births_{k:02d}.csv", "w", encoding="utf-8", newline="")
        self.births = csv.writer(self.births_f, lineterminator="\n")
        self.deaths_f = open(parts / f"deaths_{k:02d}.csv", "w", encoding="utf-8", newline="")
        self.deaths = csv.writer(self.deaths_f, lineterminator="\n")
        self.n_births = self.n_deaths = 0
        self.unfound: list[tuple[str, str, dt.date, str]] = []  # registrants no census line matches directly

    def _no(self, letter: str, n: int) -> str:
        if n >= RECORDS_PER_COUNTY:
            raise OverflowError(f"more than {RECORDS_PER_COUNTY:,} {letter} records in one county")
        return f"{letter}{self.prefix}{n:07d}"

    def _row(self, row: list) -> None:
        f, w, n = self.files[self.rng.random() >= 0.8]
        w.writerow(row)
        n[0] += 1

    def person(self, p: Person) -> None:
        if not p.in_register or not p.hukou_county or not p.hukou_township or p.id_number is None:
            return
        rng, rates = self.rng, self.rates
        self.n += 1
        p.register_no = self._no("P", self.n)
        name, ident = p.name, p.id_number
        r = rng.random()
        if r < rates.name_typo:
            name = names.typo(rng, name)
            self.truth.defects["register_name_typos"] += 1
        elif r < rates.name_typo + rates.name_homophone:
            name = names.homophone(rng, name)
            self.truth.defects["register_name_homophones"] += 1
        if rng.random() < rates.register_id_error:
            ident = corrupt_id(rng, ident)
            self.truth.defects["register_id_errors"] += 1
        p.register_name, p.register_id = name, ident
        self.links.register(p.register_no, p.pid)
        row = [p.register_no, ident, name, p.sex, p.born.isoformat(), p.hukou_county, p.hukou_township,
               "某地址", "1", EXTRACTED_ON]
        self._row(row)
        if rng.random() < rates.register_update:
            self.update.writerow(row[:7] + ["某新地址", "1", UPDATE_EXTRACTED_ON])
            self.update_rows += 1

    def register_only(self, ea: EA) -> None:
        """A registrant of this township living outside the city whom no form lists."""
        rng = self.rng
        sex = rng.choice("12")
        born = dt.date(rng.randint(1950, 2000), rng.randint(1, 12), rng.randint(1, 28))
        self.n += 1
        ident = self.ids.new(ea.county, born, sex)
        name = names.full_name(rng, sex)
        self._row([self._no("P", self.n), ident, name, sex, born.isoformat(), ea.county,
                   ea.township, "某地址", "1", EXTRACTED_ON])
        self.unfound.append((name, sex, born, ea.township))
        self.truth.defects["register_persons_missing_from_census"] += 1
        # inactive records (moved out, deceased) are in the extract too and never omissions
        if rng.random() < 0.5:
            self.n += 1
            self._row([self._no("P", self.n), self.ids.new(ea.county, born, "1"), names.full_name(rng, "1"),
                       "1", born.isoformat(), ea.county, ea.township, "某地址", rng.choice("23"), EXTRACTED_ON])

    def birth(self, baby: Person, mother: Person, county: str) -> None:
        self.n_births += 1
        self.truth.county[county]["register_births"] += 1
        self.births.writerow([self._no("O", self.n_births), baby.name if self.rng.random() < 0.8 else "", baby.sex,
                              baby.born.isoformat(), mother.id_number, mother.name, county, "2020-11-10"])

    def death(self, dead: Person, died: dt.date, county: str) -> None:
        self.n_deaths += 1
        self.truth.county[county]["register_deaths"] += 1
        self.deaths.writerow([self._no("D", self.n_deaths), dead.id_number, dead.name, dead.sex, dead.born.isoformat(),
                              died.isoformat(), county, "2020-11-10"])

    def finish(self) -> dict[str, int]:
        """Close the parts; their data rows by part."""
        for f, _w, _n in self.files:
            f.close()
        for f in (self.update_f, self.births_f, self.deaths_f):
            f.close()
        return {"hukou1": self.files[0][2][0], "hukou2": self.files[1][2][0], "update": self.update_rows,
                "births": self.n_births, "deaths": self.n_deaths}


def is_true_resident(p: Person) -> bool:
    """Part of the resident population (常住人口): a citizen born before the standard time whom
    the resident rule counts here."""
    return (p.id_type not in ("2", "3") and p.born < STANDARD_DAY
            and counts_here_cached(p.residence, p.hukou_place, p.duration, p.reason)[0])


def pes_sample(rng: random.Random, eas: list[EA], fraction: float) -> set[str]:
    """EAs for the PES: in each stratum (county x urban/rural) a simple random sample of
    round(fraction x EAs), at least 2 where the stratum has 2 (a replicate variance needs 2)."""
    strata: dict[tuple[str, str], list[str]] = defaultdict(list)
    for ea in eas:
        strata[(ea.county, ea.urban_rural[0])].append(ea.code)
    chosen: set[str] = set()
    if fraction <= 0:
        return chosen
    for key in sorted(strata):
        codes = sorted(strata[key])
        n = min(len(codes), max(2, round(fraction * len(codes))))
        chosen.update(rng.sample(codes, n))
    return chosen


class TruthLinks:
    """Which records are the same human (`<out>.truth_links.csv.gz`): every line of an
    authoritative census submission and every household-registration record of a generated
    person, with the person's number. Linkage quality (precision, recall) is measured on it.
    Each county writes its own gzip member (no timestamp: the same seed, the same bytes)."""

    def __init__(self, path: Path, header: bool = True):
        self.raw = open(path, "wb")
        self.gz = gzip.GzipFile(filename="", mode="wb", fileobj=self.raw, compresslevel=1, mtime=0)
        self.f = io.TextIOWrapper(self.gz, encoding="utf-8", newline="")
        if header:
            self.f.write("record_type,record_key,person\n")

    def census(self, submission_id: str, members: list[Person]) -> None:
        self.f.writelines(f"census,{submission_id}:{i},{p.pid}\n" for i, p in enumerate(members, 1))

    def pes(self, submission_id: str, members: list[Person]) -> None:
        self.f.writelines(f"pes,{submission_id}:{i},{p.pid}\n" for i, p in enumerate(members, 1))

    def register(self, person_no: str, pid: int) -> None:
        self.f.write(f"hukou,{person_no},{pid}\n")

    def close(self) -> None:
        self.f.close()
        self.raw.close()


def generate(out: Path, households: int, seed: int, truth_path: Path | None = None, rates: Rates | None = None,
             progress: Callable[[int], None] | None = None, min_township_households: int = 40,
             pes_seed: int | None = None, workers: int | None = None) -> dict:
    """Write a landing zone to `out` and its truth (JSON) to `truth_path` (default `<out>.truth.json`).
    `workers` processes draw the counties (default: $CENSUS_GENERATE_WORKERS, else 1); the
    output is the same whatever their number."""
    if workers is None:
        workers = int(os.environ.get("CENSUS_GENERATE_WORKERS") or 1)
    gen = Generator(out, households, seed, rates, min_township_households=min_township_households, pes_seed=pes_seed,
                    workers=workers)
    truth = gen.run(progress)
    truth["parameters"] = {"households": households, "seed": seed, "rates": dataclasses.asdict(gen.rates)}
    truth["city_code"] = CITY_CODE
    path = truth_path or truth_path_for(out)
    path.write_text(json.dumps(truth, ensure_ascii=False, indent=1, sort_keys=True), encoding="utf-8")
    return truth
