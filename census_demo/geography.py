"""Enumeration areas: the city's counties, townships, villages and EAs with their households, in
the published county shares; and the invariant that keeps every household ID unique."""

from __future__ import annotations

import dataclasses
import random

from census_demo.calibration import COUNTY_POPULATION, COUNTY_TOWNSHIPS, COUNTY_URBAN_SHARE

HOUSEHOLDS_PER_EA = 60


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
