"""Counting: what each enumerated household adds to the truth's figures (population by sex, age,
education, migration, long-form answers ...), as rules.md counts it, after duplicate resolution."""

from __future__ import annotations

import datetime as dt

from census_demo.fast import age_on, counts_here_cached, migration_class_cached
from census_demo.ids import id_birth_date
from census_demo.oracle import STANDARD_DATE, age_at_standard_time
from census_demo.population import Person
from census_pipeline.lib import idnumber
from census_pipeline.lib.codes import is_district

# The age-group keys a counted person adds to (ages 65 and over alike), and the education keys.
_AGE_KEYS = tuple(tuple(key for lo, hi, key in ((0, 14, "age_0_14"), (15, 59, "age_15_59"), (60, 200, "age_60_plus"),
                                                 (65, 200, "age_65_plus")) if lo <= age <= hi) for age in range(66))
_EDU_KEYS = {6: "university", 7: "university", 8: "university", 9: "university", 5: "high_school",
             4: "junior_secondary", 3: "primary"}
YEARS_OF_SCHOOLING = {1: 0, 2: 0, 3: 6, 4: 9, 5: 12, 6: 15, 7: 16, 8: 19, 9: 22}


class Counting:
    """The Generator's part that adds a household's counted persons to the truth (and takes out
    the record of a person that loses to a duplicate)."""

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
                age = age_on(born)
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


def _duplicate_survivor(a: dict, b: dict) -> str:
    """Which of two final, residence-1 records survives: the later submission, then the larger id."""
    ka = (dt.datetime.fromisoformat(a["submitted_at"]), a["submission_id"])
    kb = (dt.datetime.fromisoformat(b["submitted_at"]), b["submission_id"])
    return "b" if kb > ka else "a"
