"""Persons: the members of a household (families, dormitories and care homes, migrants, members
living elsewhere, residents from Hong Kong, Macao, Taiwan or abroad), drawn in the proportions of
Hangzhou's published figures."""

from __future__ import annotations

import dataclasses
import datetime as dt

from census_demo import names
from census_demo.calibration import CITY_BIRTH_AREAS_EXTRA, OTHER_PROVINCE_ORIGINS, ZHEJIANG_ORIGINS
from census_demo.fast import age_on, counts_here_cached
from census_demo.geography import EA
from census_demo.oracle import STANDARD_DATE
from census_pipeline.lib.codes import is_district

# for each age (0 .. 130), the first day of the year of birth dates giving that age at the standard time:
# 1 November of the year before
_YEAR_START_ORDINAL = tuple(dt.date(2020 - age - 1, 11, 1).toordinal() for age in range(131))
_DATE_OF_ORDINAL = dt.date.fromordinal
FAMILY_SIZES = ((1, 0.28), (2, 0.33), (3, 0.23), (4, 0.10), (5, 0.04), (6, 0.015), (7, 0.005))
COLLECTIVE_SIZES = ((1, 0.35), (2, 0.25), (3, 0.15), (4, 0.12), (6, 0.08), (8, 0.03), (12, 0.02))
_FAMILY_SIZE_TABLE = tuple(zip(*FAMILY_SIZES, strict=True))  # (values, weights) for FastRandom.pick
_COLLECTIVE_SIZE_TABLE = tuple(zip(*COLLECTIVE_SIZES, strict=True))
_OTHER_PROVINCE_TABLE = tuple(zip(*OTHER_PROVINCE_ORIGINS, strict=True))
MINORITIES = ("22", "15", "06", "03", "09", "08", "12", "07", "11", "02")


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
        return age_on(self.born)


def is_true_resident(p: Person) -> bool:
    """Part of the resident population (常住人口): a citizen born before the standard time whom
    the resident rule counts here."""
    return (p.id_type not in ("2", "3") and p.born < STANDARD_DATE
            and counts_here_cached(p.residence, p.hukou_place, p.duration, p.reason)[0])


class People:
    """The Generator's part that draws persons: one at a time, or a household's members. It uses
    the Generator's random stream (`rng`), ID allocator (`ids`), counties and truth."""

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
        born = _DATE_OF_ORDINAL(_YEAR_START_ORDINAL[age] + rng.randint(0, 364))  # `age` completed years
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
