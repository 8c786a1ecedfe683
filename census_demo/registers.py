"""Registers: the household-registration (hukou), birth and death extracts, consistent with
the population and with a register's own defects (name typos and homophones, a wrong ID,
updated records, registrants the census misses); and which registrants no census line finds."""

from __future__ import annotations

import csv
import datetime as dt
import random
from pathlib import Path

from census_demo import names
from census_demo.fast import year_month
from census_demo.geography import EA
from census_demo.ids import IdAllocator, corrupt_id
from census_demo.population import Person
from census_demo.rates import Rates
from census_demo.truth import Truth, TruthLinks

EXTRACTED_ON = "2020-10-20"
UPDATE_EXTRACTED_ON = "2020-11-20"
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


class RegisterOutcomes:
    """The Generator's part that follows registrants: which ones the census finds directly, and
    which ones it finds nowhere (the register persons not found of the truth)."""

    def _census_lines(self, members: list[Person]) -> None:
        """Remember how each census line could be found by name + sex + birth date."""
        for p in members:
            if p.id_type == "1" and p.form_id is None and p.id_number:
                self.census_by_date.append(hash((p.name, p.sex, p.born.isoformat())))
            else:
                self.census_by_month.append(hash((p.name, p.form_sex or p.sex, p.form_birth_ym or year_month(p.born))))

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
            if contains(by_date, hash((name, sex, born.isoformat()))) or contains(by_month, hash((name, sex, year_month(born)))):
                continue
            self.truth.county[township[:6]]["register_persons_not_found"] += 1
            self.truth.township[township]["register_persons_not_found"] += 1
            self.truth.follow_up["register_person_not_found"] += 1
