"""The truth of a generated census: what the pipeline must find (`<out>.truth.json`,
accumulated as households are written), and which records are the same person
(`<out>.truth_links.csv.gz`)."""

from __future__ import annotations

import gzip
import io
from collections import Counter, defaultdict
from pathlib import Path

from census_demo.population import Person


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
