"""Households: one household drawn with its members and the events of its year (births,
deaths), and the defects planted in it (a wrong item on a form, a person left off or
forgotten, a person counted in two households)."""

from __future__ import annotations

import dataclasses
import datetime as dt

from census_demo.calibration import COUNTY_COLLECTIVE_SHARE
from census_demo.fast import counts_here_cached, year_month
from census_demo.geography import EA
from census_demo.ids import corrupt_id
from census_demo.oracle import STANDARD_DATE
from census_demo.population import Person, is_true_resident
from census_pipeline.lib.codes import counties


class Households:
    """The Generator's part that draws a household and plants its defects. It uses the
    Generator's random stream, rates, truth, enumerators and register writer."""

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
            born = STANDARD_DATE + dt.timedelta(days=rng.randint(0, 4))
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
            hh["deaths"].append({"name": dead.name, "sex": sex, "birth_ym": year_month(dead.born),
                                 "death_ym": year_month(died), "id_number": dead.id_number})
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
                p.form_birth_ym = year_month(shifted)
                self.truth.defects["birth_month_contradicts_id"] += 1

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
