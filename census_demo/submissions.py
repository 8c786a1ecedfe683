"""Submissions: the forms a household sends (pre-registration, partial, final, long form),
delivered as lines of batch files, with the line-level defects planted (malformed copies,
conflicting re-deliveries, a form from outside the census area)."""

from __future__ import annotations

import datetime as dt
import json
import random

from census_demo.calibration import OUTSIDE_CITY_CODE
from census_demo.fast import json_line, next_day, uuid_str, year_month
from census_demo.geography import EA
from census_demo.oracle import STANDARD_DATE
from census_demo.population import Person

TZ = dt.timezone(dt.timedelta(hours=8))


def timestamp_between(rng: random.Random, first: dt.date, last: dt.date) -> dt.datetime:
    """A moment of a day from `first` to `last`, 08:00-21:59 China time: when a form is sent."""
    d = dt.date.fromordinal(first.toordinal() + rng.randint(0, (last - first).days))
    return dt.datetime(d.year, d.month, d.day, rng.randint(8, 21), rng.randint(0, 59), rng.randint(0, 59), tzinfo=TZ)


class Submissions:
    """The Generator's part that writes a household's submissions and delivers them. It uses the
    Generator's random stream, rates, truth and batch writer (`batches`)."""

    def _person_json(self, p: Person, line_no: int, long_form: bool) -> dict:
        return {
            "line_no": line_no, "name": p.name, "relationship": p.rel, "id_type": p.id_type,
            "id_number": p.form_id if p.form_id is not None else p.id_number,
            "sex": p.form_sex or p.sex, "birth_ym": p.form_birth_ym or year_month(p.born),
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

    def _write_submissions(self, hh: dict) -> dict:
        """All submissions of a household; returns the authoritative one (rules.md)."""
        rng, rates = self.rng, self.rates
        persons = hh["persons"]
        long_form = rng.random() < rates.long_form
        subs: list[dict] = []
        born_after = hh.get("born_after", False)
        early = [p for p in persons if p.born < STANDARD_DATE]

        r = rng.random()
        if r < rates.pre_registration:
            subs.append(self._submission(hh, early, channel="pad", form="short", status="pre_registration",
                                         at=timestamp_between(rng, dt.date(2020, 10, 11), dt.date(2020, 10, 31))))
        elif r < rates.pre_registration + rates.partial_self:
            subs.append(self._submission(hh, early, channel="self", form="short", status="partial",
                                         at=timestamp_between(rng, dt.date(2020, 10, 11), dt.date(2020, 11, 1)), partial=True))
        no_final = not born_after and "dup_of" not in hh and "dup_src" not in hh and rng.random() < rates.no_final
        if no_final:
            if not subs:  # complete items: the truth stays exact (imputed values are not predictable)
                subs.append(self._submission(hh, persons, channel="self", form="short", status="partial",
                                             at=timestamp_between(rng, dt.date(2020, 10, 20), dt.date(2020, 11, 4))))
            elif subs[0]["status"] == "partial":
                subs[0] = self._submission(hh, early, channel="self", form="short", status="partial",
                                           at=dt.datetime.fromisoformat(subs[0]["submitted_at"]))
            self.truth.follow_up["no_final_submission"] += 1
            self.truth.defects["households_without_final"] += 1
        elif long_form and not born_after:
            subs.append(self._submission(hh, persons, channel="pad", form="long", status="final",
                                         at=timestamp_between(rng, dt.date(2020, 11, 1), dt.date(2020, 11, 12))))
            self.truth.defects["long_form_households"] += 1
            if rng.random() < rates.short_after_long:
                late = timestamp_between(rng, dt.date(2020, 11, 13), dt.date(2020, 11, 20))
                subs.append(self._submission(hh, persons[:1], channel="pad", form="short", status="final", at=late))
                self.truth.defects["short_final_after_long"] += 1
        elif not born_after and rng.random() < rates.self_final:
            subs.append(self._submission(hh, persons, channel="self", form="short", status="final",
                                         at=timestamp_between(rng, dt.date(2020, 10, 11), dt.date(2020, 11, 5))))
        else:
            last = dt.date(2020, 11, 30) if rng.random() < 0.02 else dt.date(2020, 11, 15)
            if born_after:
                first = dt.date(2020, 11, 6)
                last = max(last, first)
            else:
                first = dt.date(2020, 11, 1)
            subs.append(self._submission(hh, persons, channel="pad", form="short", status="final",
                                         at=timestamp_between(rng, first, last)))
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
        upload = next_day(day) if rng.random() < 0.1 else day
        line = json_line(sub)
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
            conflict = json_line(changed)
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
                               at=timestamp_between(self.rng, dt.date(2020, 10, 20), dt.date(2020, 11, 5)))
        line = json_line(sub)
        upload = sub["submitted_at"][:10]
        self.batches.write("self", upload, line, good=False)
        self.truth.bad_lines.add(line.encode("utf-8"))
        self.truth.quarantine_reasons["outside_census_area"] += 1


def _authoritative(subs: list[dict]) -> dict:
    if len(subs) == 1:
        return subs[0]
    finals = [s for s in subs if s["status"] == "final"]
    if finals:
        return max(finals, key=lambda s: (s["form"] == "long", dt.datetime.fromisoformat(s["submitted_at"]), s["submission_id"]))
    return max(subs, key=lambda s: (dt.datetime.fromisoformat(s["submitted_at"]), s["submission_id"]))
