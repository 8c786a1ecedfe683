"""The whole census: the geography and the PES sample drawn from the seed, each county drawn
from its own random streams (in worker processes when asked), the counties' parts joined in
county order; and `generate`, what `census generate` runs."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import gzip
import json
import os
import shutil
import signal
import tempfile
from array import array
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from census_demo.batches import BatchWriter
from census_demo.calibration import COUNTY_POPULATION
from census_demo.counting import Counting
from census_demo.coverage_survey import CoverageSurvey, pes_sample
from census_demo.fast import FastRandom
from census_demo.geography import EA, build_geography
from census_demo.households import Households
from census_demo.ids import IdAllocator
from census_demo.population import People, Person
from census_demo.rates import Rates
from census_demo.registers import (
    BIRTH_COLUMNS,
    DEATH_COLUMNS,
    EXTRACTED_ON,
    HUKOU_COLUMNS,
    UPDATE_EXTRACTED_ON,
    RegisterOutcomes,
    RegisterWriter,
)
from census_demo.submissions import Submissions
from census_demo.truth import Truth, TruthLinks
from census_pipeline.lib.codes import CITY_CODE
from census_pipeline.lib.truth_files import truth_links_path_for, truth_path_for


def stream_seed(kind: str, seed: int, county: str) -> str:
    """The seed of a county's own random stream (a string: Random hashes it with SHA-512, the
    same in every process)."""
    return f"{kind}/{seed}/{county}"


PERSONS_PER_COUNTY = 10**8  # person numbers (truth only) of county k: k * 10**8 + 1, ...


@dataclasses.dataclass
class CountyTask:
    k: int  # 1-based, in COUNTY_POPULATION order
    county: str
    eas: list[tuple[EA, int]]
    pes_eas: set[str]
    parts: Path  # where the county writes its parts of the frame, registers and truth links


def county_pool(workers: int):
    """A pool of `workers` forked processes (fork: they share this process's string-hash secret,
    which the omission check's hashes of (name, sex, birth date) rely on), with SIGTERM at its
    default in each: a process started in the background here has it ignored, and its forked
    workers would inherit that, so the pool's terminate() (its `with` block's end, or an error),
    which ends workers by SIGTERM, could wait for ever on a worker waiting for work.
    - The workers are forked with SIGTERM at its default (set so in this process meanwhile, from
      the main thread): a worker that terminate() reaches before it has started is ended too. (With
      the initializer alone, a test ending a pool just made waited for ever under load, once in a
      whole test run: its second worker had not yet run the initializer.)
    - And each worker sets it so when it starts (the initializer): a worker the pool forks later,
      to replace one that died, inherits this process's disposition.
    SIGINT stays as the parent has it: workers that a Ctrl-C ends while the parent ignores it
    would leave the parent waiting for their counties."""
    import multiprocessing
    import threading

    context = multiprocessing.get_context("fork")
    if threading.current_thread() is not threading.main_thread():  # (only the main thread sets handlers)
        return context.Pool(workers, initializer=_default_sigterm)
    before = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        return context.Pool(workers, initializer=_default_sigterm)
    finally:
        signal.signal(signal.SIGTERM, before)


def _default_sigterm() -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


class Generator(People, Households, Submissions, Counting, RegisterOutcomes, CoverageSurvey):
    """The whole census is drawn county by county: the geography and the PES sample from the
    seed, then each county's households from its own random streams, derived from (seed,
    county), into its own batch files and parts of the frame, registers and truth links,
    which are then joined in county order. So a county's output does not depend on which
    process draws it, or when: with `workers` > 1 the counties are drawn in parallel and the
    landing zone, truth and truth links are byte for byte those of `workers` = 1.

    The drawing itself is in the parts the class is made of, one module each: People
    (population), Households, Submissions, Counting, RegisterOutcomes (registers) and
    CoverageSurvey (coverage_survey); they share this object's state (random streams, truth,
    writers), so every draw comes in the order it always has."""

    def __init__(self, out: Path, households: int, seed: int, rates: Rates | None = None, batch_size: int = 250,
                 min_township_households: int = 40, pes_seed: int | None = None, workers: int = 1):
        self.min_township_households = min_township_households
        self.out = Path(out)
        self.n_households = households
        self.seed = seed
        self.workers = max(1, int(workers))
        self.rng = FastRandom(seed)
        self.rates = rates or Rates()
        self.truth = Truth()
        self.ids = IdAllocator()
        self.batch_size = batch_size
        self.person_no = 0
        self.counties = list(COUNTY_POPULATION)
        self.townships_of: dict[str, list[str]] = defaultdict(list)
        self._other_townships: dict[tuple[str, str], list[str]] = {}  # _set_hukou's choices, by (county, township)
        self.enumerators: dict[str, str] = {}
        self.listed: dict[str, list[Person]] = {}
        self.n_people = 0
        # the PES draws apart: the census is the same without it, and with another PES seed
        self.pes_seed = seed * 7919 + 17 if pes_seed is None else pes_seed
        self.pes_rng = FastRandom(self.pes_seed)
        self.pes_eas: set[str] = set()
        self.census_by_date = array("q")  # hash(name, sex, birth date) of census lines with a valid ID
        self.census_by_month = array("q")  # hash(name, sex, birth month) of lines without one
        self.foreign_ids: set[str] = set()  # ID numbers of type 2/3 issued (about 0.4% of households)
        self.unfound: list[tuple[str, str, dt.date, str]] = []

    def run(self, progress: Callable[[int], None] | None = None) -> dict:
        if self.out.exists() and any(self.out.iterdir()):
            raise FileExistsError(f"{self.out} is not empty; choose an empty or new folder")
        self.out.mkdir(parents=True, exist_ok=True)
        for sub in ("frame", "uploads/pad", "uploads/self", "admin/hukou", "admin/births", "admin/deaths"):
            (self.out / sub).mkdir(parents=True, exist_ok=True)
        geography = build_geography(self.rng, self.n_households, self.min_township_households)
        for ea, _ in geography:
            if ea.township not in self.townships_of[ea.county]:
                self.townships_of[ea.county].append(ea.township)
        self.pes_eas = pes_sample(self.pes_rng, [ea for ea, _ in geography], self.rates.pes_ea_fraction)
        parts = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.parts-", dir=self.out.parent))
        try:
            tasks = []
            for k, county in enumerate(self.counties, 1):
                eas = [(ea, n) for ea, n in geography if ea.county == county]
                if eas:
                    tasks.append(CountyTask(k, county, eas, {c.code for c, _ in eas} & self.pes_eas, parts))
            results = self._run_counties(tasks, progress)
            self._merge(results, parts)
        finally:
            shutil.rmtree(parts, ignore_errors=True)
        self._in_flight_files()
        self._omissions_truth()
        self._coverage_truth()
        return self.truth.as_dict()

    def _run_counties(self, tasks: list[CountyTask], progress: Callable[[int], None] | None) -> list[dict]:
        if self.workers == 1 or len(tasks) == 1:
            return [self._county(t, progress) for t in tasks]
        # biggest counties first
        order = sorted(tasks, key=lambda t: -sum(n for _, n in t.eas))
        results = {}
        with county_pool(min(self.workers, len(tasks))) as pool:
            for res in pool.imap_unordered(self._county_in_worker, order):
                results[res["k"]] = res
                if progress:
                    progress(res["households"])
            pool.close()  # the workers end on their own once the work is done
            pool.join()
        return [results[t.k] for t in tasks]

    def _county_in_worker(self, task: CountyTask) -> dict:
        return self._county(task, None)

    def _county(self, task: CountyTask, progress: Callable[[int], None] | None) -> dict:
        """Draw one county's households into its batch files and its parts; return its truth."""
        g = Generator(self.out, self.n_households, self.seed, self.rates, self.batch_size,
                      self.min_township_households, self.pes_seed)
        g.townships_of = self.townships_of
        g.pes_eas = task.pes_eas
        g.rng = FastRandom(stream_seed("census", self.seed, task.county))
        g.pes_rng = FastRandom(stream_seed("pes", self.pes_seed, task.county))
        g.ids = IdAllocator(home=task.county, slot=task.k - 1)
        g.n_people = task.k * PERSONS_PER_COUNTY
        rng, rates, k = g.rng, g.rates, task.k
        g.batches = BatchWriter(g.out, rng, rates, g.batch_size, g.truth)
        g.pes_batches = BatchWriter(g.out, g.pes_rng, rates, g.batch_size, g.truth, folder="pes")
        g.links = TruthLinks(task.parts / f"links_{k:02d}.csv.gz", header=False)
        g.registers = RegisterWriter(task.parts, rng, rates, g.truth, g.ids, g.links, k)
        frame_f = open(task.parts / f"frame_{k:02d}.csv", "w", encoding="utf-8", newline="")
        g.frame = csv.writer(frame_f, lineterminator="\n")
        pending: dict | None = None
        households = 0
        for ea, n in task.eas:
            for dwelling in range(1, n + 1):
                hh = g._household(ea, dwelling)
                if pending is not None:
                    g._maybe_duplicate(pending, hh)
                    g._emit(pending)
                pending = hh
                households += 1
                if progress:
                    progress(1)
        if pending is not None:
            g._emit(pending)
        g.batches.finish()
        g.pes_batches.finish()
        rows = g.registers.finish()
        g.links.close()
        frame_f.close()
        if g.n_people >= (k + 1) * PERSONS_PER_COUNTY:
            raise OverflowError(f"county {task.county}: more than {PERSONS_PER_COUNTY:,} persons")
        t = g.truth
        t.bad_lines.clear()
        return {
            "k": k, "households": households, "frame_rows": g.frame_rows, "register_rows": rows,
            "files": t.files, "defects": t.defects, "county": dict(t.county), "township": dict(t.township),
            "quarantine_reasons": t.quarantine_reasons, "submissions": t.submissions, "follow_up": t.follow_up,
            "pes": t.pes, "unfound": g.registers.unfound,
            "census_by_date": g.census_by_date.tobytes(), "census_by_month": g.census_by_month.tobytes(),
            "id_cell_max": g.ids.max_used(),
        }

    def _merge(self, results: list[dict], parts: Path) -> None:
        """Join the counties' parts in county order, and add up their truth."""
        t = self.truth
        for r in results:  # county order
            t.files.update(r["files"])
            t.defects.update(r["defects"])
            for c, counts in r["county"].items():
                t.county[c].update(counts)
            for tw, counts in r["township"].items():
                t.township[tw].update(counts)
            t.quarantine_reasons.update(r["quarantine_reasons"])
            t.follow_up.update(r["follow_up"])
            t.pes.update(r["pes"])
            t.submissions += r["submissions"]
            self.unfound.extend(r["unfound"])
            self.census_by_date.frombytes(r.pop("census_by_date"))  # 8 bytes a person: do not hold them twice
            self.census_by_month.frombytes(r.pop("census_by_month"))
            self.frame_rows += r["frame_rows"]
        self.id_cell_max = {}  # the fullest ID sequence cell by kind of area: (numbers used, part)
        for r in results:
            for kind, used in r["id_cell_max"].items():
                self.id_cell_max[kind] = max(self.id_cell_max.get(kind, used), used)
        ks = [r["k"] for r in results]

        def join(rel: str, part: str, header: bytes, rows: int) -> None:
            with open(self.out / rel, "wb") as f:
                f.write(header)
                for k in ks:
                    with open(parts / part.format(k=k), "rb") as src:
                        shutil.copyfileobj(src, f, 1 << 20)
            t.files[rel] = {"received": rows, "ingested": rows, "quarantined": 0}

        frame_header = "household_id,ea_code,urban_rural_code,address,household_type,expected_persons,listed_on\n"
        join("frame/listing.csv", "frame_{k:02d}.csv", frame_header.encode(), self.frame_rows)
        hukou_header = ",".join(HUKOU_COLUMNS) + "\n"
        for name, part, header in (
            (f"admin/hukou/hukou_{EXTRACTED_ON}_part1.csv", "hukou1_{k:02d}.csv", hukou_header.encode()),
            (f"admin/hukou/hukou_{EXTRACTED_ON}_part2.csv", "hukou2_{k:02d}.csv",
             ("# encoding: gb18030\n" + hukou_header).encode("gb18030")),
            (f"admin/hukou/hukou_{UPDATE_EXTRACTED_ON}_update.csv", "update_{k:02d}.csv", hukou_header.encode()),
            ("admin/births/births_2020-11-10.csv", "births_{k:02d}.csv", (",".join(BIRTH_COLUMNS) + "\n").encode()),
            ("admin/deaths/deaths_2020-11-10.csv", "deaths_{k:02d}.csv", (",".join(DEATH_COLUMNS) + "\n").encode()),
        ):
            join(name, part, header, sum(r["register_rows"][part.split("_")[0]] for r in results))
        # gzip members one after another are one gzip file (RFC 1952); the header is the first
        links = truth_links_path_for(self.out)
        with open(links, "wb") as f:
            f.write(gzip.compress(b"record_type,record_key,person\n", compresslevel=1, mtime=0))
            for k in ks:
                with open(parts / f"links_{k:02d}.csv.gz", "rb") as src:
                    shutil.copyfileobj(src, f, 1 << 20)

    frame_rows = 0

    def _in_flight_files(self) -> None:
        """Files still being written when the pipeline looks: to be left alone."""
        day = self.out / "uploads/pad/2020-11-30"
        day.mkdir(parents=True, exist_ok=True)
        (day / "inflight-batch.jsonl.part").write_text('{"submission_id": "in-flight", "chan', encoding="utf-8")
        (day / "upload.jsonl.tmp").write_text("{}\n", encoding="utf-8")
        (day / ".hidden-batch.jsonl").write_text("{}\n", encoding="utf-8")
        self.truth.defects["in_flight_files"] = 3

    def _emit(self, hh: dict) -> None:
        """Write a household's listing row, submissions and register rows, and count its truth."""
        rng, rates = self.rng, self.rates
        ea, persons = hh["ea"], hh["persons"]
        listed = rng.random() >= rates.unlisted_household
        if listed:
            expected = sum(1 for p in persons if p.residence == "1") + hh["omitted"] + rng.choice((0, 0, 0, 1, -1))
            self.frame.writerow([hh["id"], ea.code, ea.urban_rural, hh["address"], hh["type"], max(1, expected),
                                 "2020-10-" + str(rng.randint(10, 28))])
            self.frame_rows += 1
        else:
            self.truth.defects["unlisted_households"] += 1
        missing = listed and "dup_of" not in hh and "dup_src" not in hh and rng.random() < rates.missing_household
        everyone = persons + ([hh["omitted_person"]] if "omitted_person" in hh else []) + hh["forgotten"]
        for p in everyone:
            self.registers.person(p)
        if "omitted_person" in hh:
            self.truth.defects["omitted_persons"] += 1
        hh["registered"] = [p for p in everyone if p.register_no]
        if hh["ea"].code in self.pes_eas:
            self._pes_household(hh, everyone)
        if missing:
            self._missed(hh, everyone)
            self._register_outcomes(hh)
            self.truth.defects["missing_households"] += 1
            self.truth.county[ea.county]["listed_households"] += 1
            self.truth.county[ea.county]["missing_households"] += 1
            self.truth.follow_up["missing_household"] += 1
            return
        auth, members = self._write_submissions(hh)
        hh["auth"] = auth
        self._missed(hh, ([hh["omitted_person"]] if "omitted_person" in hh else []) + hh["forgotten"])
        self.links.census(auth["submission_id"], members)
        self._census_lines(members)
        for p in members:
            p.in_census = True
        if hh["omitted"]:
            self.truth.follow_up["fewer_person_lines_than_h3"] += 1
        c = self.truth.county[ea.county]
        c["listed_households"] += 1 if listed else 0
        c["enumerated_households"] += 1
        self._count(hh, auth)
        self._register_outcomes(hh)
        if rng.random() < rates.register_only:
            self.registers.register_only(ea)
        if rng.random() < rates.outside_area:
            self._outside_area(hh)


def generate(out: Path, households: int, seed: int, truth_path: Path | None = None, rates: Rates | None = None,
             progress: Callable[[int], None] | None = None, min_township_households: int = 40,
             pes_seed: int | None = None, workers: int | None = None) -> dict:
    """Write a landing zone to `out` and its truth (JSON) to `truth_path` (default `<out>.truth.json`).
    `workers` processes draw the counties (default: $CENSUS_GENERATE_WORKERS, else 1); the
    output is the same whatever their number."""
    if workers is None:
        workers = int(os.environ.get("CENSUS_GENERATE_WORKERS") or 1)
    gen = Generator(out, households, seed, rates, min_township_households=min_township_households, pes_seed=pes_seed,
                    workers=workers)
    truth = gen.run(progress)
    truth["parameters"] = {"households": households, "seed": seed, "rates": dataclasses.asdict(gen.rates)}
    truth["city_code"] = CITY_CODE
    path = truth_path or truth_path_for(out)
    path.write_text(json.dumps(truth, ensure_ascii=False, indent=1, sort_keys=True), encoding="utf-8")
    return truth
