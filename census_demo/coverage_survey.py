"""The post-enumeration survey (PES): a stratified sample of EAs re-enumerated independently,
with its own misses and errors, and the true net omission rate it is to estimate."""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict

from census_demo import names
from census_demo.fast import json_line, uuid_str, year_month
from census_demo.geography import EA
from census_demo.population import Person, is_true_resident
from census_demo.submissions import timestamp_between


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


class CoverageSurvey:
    """The Generator's part that draws the PES from its own random stream (`pes_rng`): the census
    is the same with it or without it, and whatever the PES seed."""

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
                "id_number": None if no_id else p.id_number, "sex": p.sex, "birth_ym": year_month(p.born),
                "ethnicity": p.ethnicity, "residence": p.residence, "hukou_place": p.hukou_place,
                "hukou_region_code": p.hukou_region_code, "left_hukou_duration": p.duration,
                "left_hukou_reason": p.reason, "education": p.education, "literate": p.literate, "long": None,
            })
        at = timestamp_between(rng, dt.date(2020, 12, 1), dt.date(2020, 12, 10))
        sub = {
            "submission_id": uuid_str(rng.getrandbits(128)), "channel": "pes", "form": "short",
            "status": "final", "submitted_at": at.isoformat(timespec="seconds"),
            "enumerator_id": "Q" + hh["ea"].code[:12] + "001", "device_id": None,
            "household_id": hh["id"], "ea_code": hh["ea"].code, "household_type": hh["type"],
            "address": hh["address"], "h_resident_count": sum(1 for ln in lines if ln["residence"] == "1"),
            "h_hukou_absent_count": 0, "h_births_male": None, "h_births_female": None, "h_deaths_male": None,
            "h_deaths_female": None, "h_floor_area_m2": None, "h_rooms": None, "persons": lines, "deaths": [],
        }
        self.pes_batches.write("pes", at.date().isoformat(), json_line(sub), good=True)
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
