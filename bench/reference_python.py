"""Reference 1 for issue 16: the bulletin rules (tables b1-b7) as a plain per-record Python script.

What an analyst would write with the standard library only (os, json, gzip/zlib, csv, datetime,
decimal): read the landing zone, decide who is counted, print the seven tables. It is a yardstick
for `census run` (same machine, same landing zone), not a second pipeline: it imports nothing from
census_pipeline (the GB 11643 check is a copy of the algorithm), keeps no quarantine, no ledger,
no warehouse, no microdata, and writes nothing.

    .venv/bin/python bench/reference_python.py --landing /path/to/landing

What it applies (/work/shared/spec/rules.md, household_submission.md, landing_zone.md):
- files: uploads/**/*.jsonl and *.jsonl.gz (a .jsonl that starts with the gzip magic is gunzipped
  too); names starting with '.' or ending in .part/.tmp are skipped; a damaged gzip file keeps the
  complete lines before the damage. Blank lines skipped, a BOM on line 1 ignored, CRLF accepted.
- contract: a line is skipped when it is not UTF-8, not JSON, not an object, a required key is
  missing or of the wrong type, channel/form/status outside their values, submitted_at not an
  ISO-8601 timestamp with offset, persons not an array of objects, ea_code not 15 digits of a
  county of codes/regions.csv (copied below).
- re-delivery: one copy per submission_id, the first in (upload folder date, file name, path,
  line) order; a conflicting copy is simply ignored (the pipeline also quarantines it).
- supersession per household_id: a final submission over the others; among finals long over
  short; then the later submitted_at (as an instant), then the larger submission_id.
- item precedence: a valid resident ID number (id_type 1, trimmed, final x read as X, 18
  characters, ISO 7064 MOD 11-2 check character, real birth date >= 1890-01-01) gives sex and
  birth date; the second line of a submission repeating an ID number under another name has its
  ID treated as invalid. Codes: "01" == "1", a code outside its list is missing.
- resident population (常住人口) exactly as rules.md (residence/hukou items as reported), persons
  with id_type 2/3 and persons born on or after 2020-11-01 not counted.
- duplicates: records sharing a valid ID; when more than one counts, one survives (residence 1,
  final, later submitted_at, larger submission_id, smaller line_no); when none of two or more
  counts, the residence-1 record counts.
- geography: county = first 6 digits of the authoritative submission's ea_code; urban/rural from
  the listing frame's EA (else the village's listed EAs, else rural); household type from the
  submission ('1'/'2'), else the frame, else '1'.

Simplifications (the pipeline does more; none of them changes who is counted):
- no edits or imputation: b2-b5 use the items as reported (after ID precedence). A person whose
  sex is missing is in neither male nor female (b2); whose birth date is missing (no valid ID and
  no valid birth_ym) is counted but in no age group (b3) and not in the 15+ base of b4; missing
  or out-of-list education counts as no schooling (0 years) and in no level (b4); literacy is as
  reported (b4); a missing or out-of-list ethnicity counts as minority (b5, "not 01"). The
  pipeline edits/imputes those items (donor imputation), so b2-b5 can differ from the published
  bulletin where items are missing; on a generated census the truth file counts the reported
  values too, so they agree there.
- no quarantine/ledger/follow-up/flags; deaths, long-form items, b8, the registers and the PES are
  not read.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import re
import sys
import time
import zlib
from decimal import ROUND_HALF_UP, Decimal

CITY = "330100"
REGIONS = {
    "330100": "杭州市", "330102": "上城区", "330105": "拱墅区", "330106": "西湖区", "330108": "滨江区",
    "330109": "萧山区", "330110": "余杭区", "330111": "富阳区", "330112": "临安区", "330113": "临平区",
    "330114": "钱塘区", "330122": "桐庐县", "330127": "淳安县", "330182": "建德市",
}
COUNTIES = set(REGIONS) - {CITY}
NOT_DISTRICTS = {"330122", "330127", "330182"}
PROVINCES = {"11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41",
             "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71",
             "81", "82"}
URBAN_RURAL = {"111", "112", "121", "122", "123", "210", "220"}

# code lists (codes/*.csv), normalised as integers written without leading zeros
CODES = {
    "id_type": {"1", "2", "3", "9"},
    "residence": {str(i) for i in range(1, 7)},
    "hukou_place": {str(i) for i in range(1, 6)},
    "left_hukou_duration": {str(i) for i in range(1, 11)},
    "left_hukou_reason": {str(i) for i in range(1, 11)},
    "education": {str(i) for i in range(1, 10)},
    "sex": {"1", "2"},
    "literate": {"1", "2"},
}
ETHNICITIES = {f"{i:02d}" for i in range(1, 57)} | {"97", "98"}
YEARS_OF_SCHOOLING = {1: 0, 2: 0, 3: 6, 4: 9, 5: 12, 6: 15, 7: 16, 8: 19, 9: 22}

REQUIRED_STR = ("submission_id", "channel", "form", "status", "submitted_at", "household_id", "ea_code",
                "household_type", "address")
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})")
DIGITS_1_3 = re.compile(r"[0-9]{1,3}")
BIRTH_YM = re.compile(r"[0-9]{4}-[0-9]{2}")
ID_FORMAT = re.compile(r"[0-9]{17}[0-9X]")

# ---------------------------------------------------------------- GB 11643 (copied algorithm)
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"


def id_birth_date(s: str | None) -> dt.date | None:
    """The birth date of a valid (already normalised) ID number, else None."""
    if s is None or len(s) != 18 or not ID_FORMAT.fullmatch(s):
        return None
    try:
        born = dt.date(int(s[6:10]), int(s[10:12]), int(s[12:14]))
    except ValueError:
        return None
    if born < dt.date(1890, 1, 1):
        return None
    if CHECK_CHARS[sum(int(c) * w for c, w in zip(s[:17], WEIGHTS, strict=True)) % 11] != s[17]:
        return None
    return born


# ---------------------------------------------------------------- reading the landing zone


def in_flight(name: str) -> bool:
    return name.startswith(".") or name.endswith((".part", ".tmp"))


def batch_files(landing: str) -> list[tuple]:
    """(upload date or None, file name, relative path, path) of every complete batch file, in the
    order re-delivered copies are ranked (earliest upload folder, then file name, then path)."""
    out = []
    base = os.path.join(landing, "uploads")
    for dirpath, dirnames, filenames in os.walk(base, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if in_flight(name) or not name.endswith((".jsonl", ".jsonl.gz")):
                continue
            path = os.path.join(dirpath, name)
            try:
                day = dt.date.fromisoformat(os.path.basename(dirpath))
            except ValueError:
                day = None
            out.append((day is None, day or dt.date.min, name, os.path.relpath(path, landing), path))
    out.sort()
    return out


def gunzip_salvage(data: bytes) -> bytes:
    """Every gzip member; on damage, the complete lines before it."""
    out = []
    d = zlib.decompressobj(wbits=31)
    fed = False
    try:
        while data:
            fed = True
            out.append(d.decompress(data))
            if d.eof:
                data, d, fed = d.unused_data, zlib.decompressobj(wbits=31), False
            else:
                data = b""
        if fed and not d.eof:  # truncated
            out.append(d.flush())
            raise zlib.error("truncated")
    except zlib.error:
        text = b"".join(out)
        return text[: text.rfind(b"\n") + 1]
    return b"".join(out)


def file_lines(path: str):
    """(line_no, text) of the non-blank UTF-8 lines of one batch file."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return
    if data[:2] == b"\x1f\x8b":
        data = gunzip_salvage(data)
    for i, raw in enumerate(data.split(b"\n"), start=1):
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        if i == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        if not raw.strip(b" \t\r"):
            continue
        try:
            yield i, raw.decode("utf-8")
        except UnicodeDecodeError:
            continue


def is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and -(2**63) <= v < 2**63


def accepted(line: str):
    """The submission of a line when it keeps the contract, else None; with its instant."""
    try:
        s = json.loads(line)
    except ValueError:
        return None
    if not isinstance(s, dict):
        return None
    for k in REQUIRED_STR:
        if not isinstance(s.get(k), str):
            return None
    if "enumerator_id" not in s or not (s["enumerator_id"] is None or isinstance(s["enumerator_id"], str)):
        return None
    if not is_int(s.get("h_resident_count")) or not is_int(s.get("h_hukou_absent_count")):
        return None
    persons = s.get("persons")
    if not isinstance(persons, list) or not all(isinstance(p, dict) for p in persons):
        return None
    if s["channel"] not in ("pad", "self") or s["form"] not in ("short", "long") \
            or s["status"] not in ("pre_registration", "final", "partial"):
        return None
    if not TIMESTAMP.fullmatch(s["submitted_at"]):
        return None
    try:
        at = dt.datetime.fromisoformat(s["submitted_at"].replace("Z", "+00:00"))
    except ValueError:
        return None
    ea = s["ea_code"]
    if len(ea) != 15 or not ea.isascii() or not ea.isdigit() or ea[:6] not in COUNTIES:
        return None
    return s, at


def read_frame(landing: str) -> tuple[dict, dict, dict]:
    """household type by household_id; urban/rural class by EA and by village (first 12 digits)."""
    hh_type, ea_class, village_class = {}, {}, {}
    path = os.path.join(landing, "frame", "listing.csv")
    if not os.path.exists(path):
        return hh_type, ea_class, village_class
    with open(path, "rb") as f:
        first = f.readline(200).strip().lstrip(b"\xef\xbb\xbf").lower()
    encoding = "gb18030" if first.startswith(b"#") and b"encoding" in first and b"gb" in first else "utf-8-sig"
    with open(path, newline="", encoding=encoding, errors="replace") as f:
        if first.startswith(b"#"):
            f.readline()
        for row in csv.DictReader(f):
            hid, ea, ur = row.get("household_id"), row.get("ea_code") or "", row.get("urban_rural_code")
            if row.get("household_type") in ("1", "2"):
                hh_type.setdefault(hid, row["household_type"])
            if ur in URBAN_RURAL:
                ea_class[ea] = min(ea_class.get(ea, ur), ur)
                village_class[ea[:12]] = min(village_class.get(ea[:12], ur), ur)
    return hh_type, ea_class, village_class


# ---------------------------------------------------------------- person items


def code(v, allowed=None, width=None):
    """A code as a string of its integer value ("01" -> "1"), None when missing or out of list."""
    if not isinstance(v, str):
        return None
    s = v.strip(" ")
    if not DIGITS_1_3.fullmatch(s):
        return None
    s = str(int(s))
    if width:
        s = s.zfill(width)
    if allowed is not None and s not in allowed:
        return None
    return s


def person_records(sub: dict) -> list[dict]:
    """The person lines of an authoritative submission with the items the rules read."""
    recs = []
    first_name = {}  # id number -> first name written beside it in this submission
    for index, p in enumerate(sub["persons"], start=1):
        name = p.get("name") if isinstance(p.get("name"), str) else None
        raw_id = p.get("id_number")
        ident = None
        if isinstance(raw_id, str):
            ident = raw_id.strip(" ")
            if ident.endswith("x"):
                ident = ident[:-1] + "X"
        id_type = code(p.get("id_type"), CODES["id_type"])
        born = id_birth_date(ident) if id_type == "1" else None
        if ident is not None:
            first = first_name.setdefault(ident, name)
            if born is not None and first != name:
                born = None  # same ID, another name: the second line's ID is invalid
        if born is not None:
            sex = "1" if int(ident[16]) % 2 else "2"
            year, month = born.year, born.month
        else:
            ident = None
            sex = code(p.get("sex"), CODES["sex"])
            ym = p.get("birth_ym")
            year = month = None
            if isinstance(ym, str) and BIRTH_YM.fullmatch(ym):
                y, m = int(ym[:4]), int(ym[5:7])
                if 1 <= m <= 12 and 1890 <= y <= 2020:
                    year, month = y, m
        line_no = p.get("line_no")
        recs.append({
            "index": index,
            "line_no": line_no if is_int(line_no) else None,
            "id": ident,  # the valid ID number, else None
            "id_type": id_type,
            "sex": sex,
            "age": None if year is None else (2020 if month < 11 else 2019) - year,
            "born_after": year is not None and (year, month) >= (2020, 11),
            "ethnicity": code(p.get("ethnicity"), ETHNICITIES, width=2),
            "residence": code(p.get("residence"), CODES["residence"]),
            "hukou_place": code(p.get("hukou_place"), CODES["hukou_place"]),
            "hukou_region_code": p.get("hukou_region_code") if isinstance(p.get("hukou_region_code"), str) else None,
            "duration": code(p.get("left_hukou_duration"), CODES["left_hukou_duration"]),
            "reason": code(p.get("left_hukou_reason"), CODES["left_hukou_reason"]),
            "education": code(p.get("education"), CODES["education"]),
            "literate": code(p.get("literate"), CODES["literate"]),
        })
    return recs


def counts_here(r: dict) -> bool:
    """rules.md, 常住人口."""
    if r["born_after"] or r["id_type"] in ("2", "3"):
        return False
    res, place, dur, why = r["residence"], r["hukou_place"], r["duration"], r["reason"]
    if res == "1":
        if place in ("1", "2", "5"):
            return True
        if dur is not None and int(dur) >= 3:
            return True
        if place in ("3", "4") and dur == "2":
            return False  # counts at the hukou place
        return True  # contradictory or missing: counted here, flagged
    if dur == "2":
        return True
    return res == "6" and why in ("1", "2")


def region_code_is_valid(c: str | None) -> bool:
    if c is None or len(c) != 6 or not c.isascii() or not c.isdigit() or c[:2] not in PROVINCES:
        return False
    return not c.startswith("3301") or c in REGIONS or c in ("330103", "330104")


# ---------------------------------------------------------------- the run


def run(landing: str) -> dict[str, list[dict]]:
    hh_type_frame, ea_class, village_class = read_frame(landing)

    seen_ids: set[str] = set()
    best: dict[str, tuple] = {}  # household_id -> (rank key, submission)
    for _, _, _, _, path in batch_files(landing):
        for _, line in file_lines(path):
            got = accepted(line)
            if got is None:
                continue
            s, at = got
            sid = s["submission_id"]
            if sid in seen_ids:
                continue  # a re-delivered copy: the first one counts
            seen_ids.add(sid)
            final = s["status"] == "final"
            key = (final, final and s["form"] == "long", at, sid)
            hid = s["household_id"]
            if hid not in best or key > best[hid][0]:
                s.pop("deaths", None)
                s.pop("address", None)
                best[hid] = (key, s, at)
    del seen_ids

    # every person line of the authoritative submissions
    records = []
    for hid, (_, s, at) in best.items():
        ea = s["ea_code"]
        htype = s["household_type"] if s["household_type"] in ("1", "2") else hh_type_frame.get(hid, "1")
        ur = ea_class.get(ea) or village_class.get(ea[:12]) or "220"
        for r in person_records(s):
            r.update(household_id=hid, county=ea[:6], household_type=htype, urban=ur.startswith("1"),
                     final=s["status"] == "final", at=at, submission_id=s["submission_id"],
                     counted=counts_here(r))
            records.append(r)
        s["persons"] = None
    best.clear()

    # duplicates: records sharing a valid ID number
    by_id: dict[str, list[dict]] = {}
    for r in records:
        if r["id"] is not None:
            by_id.setdefault(r["id"], []).append(r)

    def survivor_order(r):
        line_no = r["line_no"]
        return (r["residence"] != "1", not r["final"], -r["at"].timestamp(), _Desc(r["submission_id"]),
                line_no is None, line_no or 0, r["index"])

    for group in by_id.values():
        if len(group) < 2:
            continue
        counting = [r for r in group if r["counted"]]
        if len(counting) > 1:
            keep = min(counting, key=survivor_order)
            for r in counting:
                r["counted"] = r is keep
        elif not counting:
            here = [r for r in group if r["residence"] == "1" and not r["born_after"]]
            if here:
                min(here, key=survivor_order)["counted"] = True

    return tables([r for r in records if r["counted"]])


class _Desc(str):
    """A string that sorts in reverse (the larger submission_id first)."""

    def __lt__(self, other):
        return str.__gt__(self, other)

    def __gt__(self, other):
        return str.__lt__(self, other)


def ratio(num: int, den: int, scale: int, decimals: int):
    if not den:
        return None
    q = Decimal(num) * scale / Decimal(den)
    return int(q.quantize(Decimal(1), ROUND_HALF_UP)) if decimals == 0 else q.quantize(
        Decimal(1).scaleb(-decimals), ROUND_HALF_UP)


def tables(counted: list[dict]) -> dict[str, list[dict]]:
    acc: dict[str, dict] = {}
    for r in counted:
        county = r["county"]
        for region in (CITY, county):
            a = acc.get(region)
            if a is None:
                a = acc[region] = {"population": 0, "fam": set(), "fam_pop": 0, "col": set(), "col_pop": 0,
                                   "male": 0, "female": 0, "age_0_14": 0, "age_15_59": 0, "age_60_plus": 0,
                                   "age_65_plus": 0, "university": 0, "high_school": 0, "junior": 0,
                                   "primary": 0, "p15": 0, "years15": 0, "illiterate": 0, "han": 0,
                                   "minority": 0, "separated": 0, "intra": 0, "inter": 0, "urban": 0, "rural": 0}
            a["population"] += 1
            if r["household_type"] == "1":
                a["fam"].add(r["household_id"])
                a["fam_pop"] += 1
            else:
                a["col"].add(r["household_id"])
                a["col_pop"] += 1
            if r["sex"] == "1":
                a["male"] += 1
            elif r["sex"] == "2":
                a["female"] += 1
            age = r["age"]
            if age is not None:
                if age <= 14:
                    a["age_0_14"] += 1
                elif age <= 59:
                    a["age_15_59"] += 1
                else:
                    a["age_60_plus"] += 1
                    if age >= 65:
                        a["age_65_plus"] += 1
            edu = int(r["education"]) if r["education"] else None
            if edu is not None:
                if edu >= 6:
                    a["university"] += 1
                elif edu == 5:
                    a["high_school"] += 1
                elif edu == 4:
                    a["junior"] += 1
                elif edu == 3:
                    a["primary"] += 1
            if age is not None and age >= 15:
                a["p15"] += 1
                a["years15"] += YEARS_OF_SCHOOLING.get(edu, 0)
                if r["literate"] == "2":
                    a["illiterate"] += 1
            if r["ethnicity"] == "01":
                a["han"] += 1
            else:
                a["minority"] += 1
            place = r["hukou_place"]
            if (r["residence"] == "1" and place in ("3", "4") and r["duration"] is not None
                    and int(r["duration"]) >= 3):
                a["separated"] += 1
                hrc = r["hukou_region_code"]
                valid = region_code_is_valid(hrc)
                in_city_district = valid and hrc.startswith("3301") and hrc not in NOT_DISTRICTS | {CITY}
                intra = county not in NOT_DISTRICTS and (place == "3" or (place == "4" and in_city_district))
                if intra:
                    a["intra"] += 1
                elif place == "4" and valid and not hrc.startswith("33"):
                    a["inter"] += 1
            a["urban" if r["urban"] else "rural"] += 1

    city_pop = acc.get(CITY, {}).get("population", 0)
    out: dict[str, list[dict]] = {t: [] for t in ("b1_population", "b2_sex", "b3_age", "b4_education",
                                                   "b5_ethnicity", "b6_migration", "b7_urban_rural")}
    for region in sorted(acc):
        a, pop = acc[region], acc[region]["population"]
        base = {"region_code": region, "region_name": REGIONS[region]}
        fam, col = len(a["fam"]), len(a["col"])
        out["b1_population"].append({**base, "population": pop, "share_of_city_pct": ratio(pop, city_pop, 100, 2),
                                     "family_households": fam, "family_household_population": a["fam_pop"],
                                     "collective_households": col, "collective_household_population": a["col_pop"],
                                     "avg_family_household_size": ratio(a["fam_pop"], fam, 1, 2)})
        out["b2_sex"].append({**base, "male": a["male"], "female": a["female"],
                              "sex_ratio": ratio(a["male"], a["female"], 100, 2)})
        ages = ("0_14", "15_59", "60_plus", "65_plus")
        out["b3_age"].append({**base, **{f"age_{g}": a[f"age_{g}"] for g in ages},
                              **{f"pct_{g}": ratio(a[f"age_{g}"], pop, 100, 2) for g in ages}})
        out["b4_education"].append({
            **base, "university_per_100k": ratio(a["university"], pop, 100000, 0),
            "high_school_per_100k": ratio(a["high_school"], pop, 100000, 0),
            "junior_secondary_per_100k": ratio(a["junior"], pop, 100000, 0),
            "primary_per_100k": ratio(a["primary"], pop, 100000, 0),
            "avg_years_schooling_15_plus": ratio(a["years15"], a["p15"], 1, 2),
            "illiterate_15_plus": a["illiterate"], "illiteracy_pct": ratio(a["illiterate"], pop, 100, 2)})
        out["b5_ethnicity"].append({**base, "han": a["han"], "minority": a["minority"],
                                    "pct_han": ratio(a["han"], pop, 100, 2),
                                    "pct_minority": ratio(a["minority"], pop, 100, 2)})
        out["b6_migration"].append({**base, "hukou_separated": a["separated"], "intra_city_separated": a["intra"],
                                    "floating": a["separated"] - a["intra"], "inter_provincial_floating": a["inter"]})
        out["b7_urban_rural"].append({**base, "urban": a["urban"], "rural": a["rural"],
                                      "urbanization_pct": ratio(a["urban"], a["urban"] + a["rural"], 100, 2)})
    return out


def print_tables(out: dict[str, list[dict]], stream=sys.stdout) -> None:
    for name, rows in out.items():
        print(f"== {name}", file=stream)
        if rows:
            w = csv.writer(stream, lineterminator="\n")
            w.writerow(rows[0].keys())
            for row in rows:
                w.writerow(["" if v is None else v for v in row.values()])
        print(file=stream)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--landing", required=True, help="landing zone folder (uploads/, frame/)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    out = run(args.landing)
    elapsed = time.perf_counter() - t0
    print_tables(out)
    city = next((r for r in out["b1_population"] if r["region_code"] == CITY), None)
    print(f"wall time: {elapsed:.1f} s")
    print(f"persons counted: {city['population'] if city else 0}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
