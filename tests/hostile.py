"""Lines that break the contract carrying the identities of real persons of a generated census,
planted into its landing zone before a run: the run must quarantine them and tell why without
ever repeating a name or an ID number (tests/integration/test_no_identity_outside.py scans what
the run leaves behind).

Each planted line takes a name and an ID number of a person whose valid submission is in the same
landing zone, so the identities are in the restricted raw tables the scan takes its list from."""

from __future__ import annotations

import json
from pathlib import Path

HOSTILE_BATCH = "hostile-identities.jsonl"
HOSTILE_EXTRACT = "hukou_hostile-identities.csv"


def _people(landing: Path, wanted: int) -> tuple[dict, list[tuple[str, str]]]:
    """A valid submission of the landing zone (a template) and (name, ID number) of `wanted` persons."""
    template, people = None, []
    for path in sorted((landing / "uploads").rglob("*.jsonl")):
        for raw in path.read_text(encoding="utf-8").splitlines():
            try:
                sub = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(sub, dict) or not isinstance(sub.get("persons"), list):
                continue
            for p in sub["persons"]:
                if isinstance(p, dict) and isinstance(p.get("name"), str) and len(p["name"]) >= 2 \
                        and isinstance(p.get("id_number"), str) and len(p["id_number"]) == 18:
                    template = template or sub
                    people.append((p["name"], p["id_number"]))
            if len(people) >= wanted:
                return template, people[:wanted]
    raise AssertionError(f"the landing zone {landing} has fewer than {wanted} identified persons")


def plant(landing: Path) -> int:
    """Write one batch of contract-breaking submissions and one register extract with malformed
    rows into `landing`, each with a real person's name or ID number where a reason might quote
    it. Returns the number of lines that must be quarantined."""
    template, people = _people(landing, 12)
    (name0, id0), (name1, id1), (name2, id2), (name3, id3) = people[:4]

    def sub(i: int, **over) -> dict:
        s = {**template, "submission_id": f"hostile-{i}"}
        s.update(over)
        return s

    bad = [
        sub(1, status=id0),  # an enum holding an ID number
        sub(2, channel=name0),  # an enum holding a name
        sub(3, form=f"{name1}{id1}"),
        sub(4, submitted_at=name2),  # not a timestamp
        sub(5, ea_code=id2),  # 18 digits, not 15
        sub(6, h_resident_count=id3),  # a string where an integer belongs
        sub(7, persons=[id0, name0]),  # not objects
        sub(8, household_id=None, address=name3),  # a required key null
        {k: v for k, v in sub(9, enumerator_id=id1).items() if k != "ea_code"},  # a required key missing
        [name2, id2],  # not an object
    ]
    lines = [json.dumps(b, ensure_ascii=False) for b in bad]
    lines.append(json.dumps(sub(11, address=name1), ensure_ascii=False)[:-40])  # cut short: not JSON
    lines.append(f'{{"submission_id": "{id3}", "name": "{name3}",')  # not JSON
    batch = sorted((landing / "uploads").rglob("*.jsonl"))[0].parent / HOSTILE_BATCH
    batch.write_text("\n".join(lines) + "\n", encoding="utf-8")

    header = ("person_no,id_number,name,sex,birth_date,hukou_region_code,hukou_township_code,hukou_address,"
              "status,extracted_on")
    (name4, id4), (name5, id5), (name6, id6) = people[4:7]
    rows = [
        f"PX000001,{id4},{name4},1,1980-01-01,330102,330102001,某地址,1",  # a field short
        f'PX000002,{id5},"{name5},1,1980-01-01,330102,330102001,某地址,1,2020-11-25',  # an unbalanced quote
        f",{id6},{name6},1,1980-01-01,330102,330102001,某地址,1,2020-11-25",  # no person_no
    ]
    (landing / "admin" / "hukou" / HOSTILE_EXTRACT).write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return len(lines) + len(rows)
