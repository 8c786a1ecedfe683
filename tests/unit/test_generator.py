"""The demo generator: deterministic, contract-shaped, calibrated."""

import dataclasses
import json

import pytest

from census_demo import generate
from census_pipeline.lib import idnumber


def test_same_seed_same_census(tmp_path):
    a = generate(tmp_path / "a", households=200, seed=5)
    b = generate(tmp_path / "b", households=200, seed=5)
    assert a["city"] == b["city"] and a["totals"] == b["totals"]
    assert a["city"] != generate(tmp_path / "c", households=200, seed=6)["city"]


def test_refuses_a_non_empty_folder(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep.txt").write_text("mine")
    try:
        generate(tmp_path / "x", households=10, seed=1)
    except FileExistsError:
        pass
    else:
        raise AssertionError("overwrote a non-empty folder")


def test_landing_zone_follows_the_contract(small_census):
    landing, truth = small_census
    assert (landing / "frame/listing.csv").read_text(encoding="utf-8").startswith("household_id,ea_code,")
    gb = next((landing / "admin/hukou").glob("*part2.csv"))
    assert gb.read_bytes().lower().startswith(b"# encoding: gb18030\n")
    files = sorted(p for p in (landing / "uploads").rglob("*.jsonl") if not p.name.startswith("."))
    assert len(files) > 100
    for path in files:  # each batch holds the lines its truth says, and every line it says is ingested is
        # a whole submission with the contract's keys (only the planted defects may lack them)
        expected = truth["files"][path.relative_to(landing).as_posix()]
        lines = [ln for ln in path.read_text(encoding="utf-8-sig", errors="replace").splitlines() if ln.strip()]
        keyed = 0
        for ln in lines:
            try:
                keyed += {"submission_id", "channel", "form", "status", "persons"} <= set(json.loads(ln))
            except (ValueError, TypeError):
                continue
        assert len(lines) == expected["received"] and expected["ingested"] <= keyed, (path.name, keyed, expected)
    valid_ids = 0
    for p in files:
        for ln in p.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                s = json.loads(ln)
            except ValueError:
                continue
            if isinstance(s, dict) and isinstance(s.get("persons"), list):
                valid_ids += sum(idnumber.is_valid(pp.get("id_number")) for pp in s["persons"] if isinstance(pp, dict))
    assert valid_ids > 100
    in_flight = [p for p in landing.rglob("*") if p.is_file() and (p.name.startswith(".") or p.suffix in (".part", ".tmp"))]
    assert len(in_flight) == truth["defects"]["in_flight_files"] > 0  # the truth counts the files it left in flight


@pytest.mark.slow  # 8,000 households: ~4 s
def test_calibrated_to_the_published_figures(tmp_path):
    city = generate(tmp_path / "cal", households=8000, seed=3)["city"]
    pop = city["population"]
    assert 100 <= 100 * city["male"] / city["female"] <= 116  # published 108.67
    assert 2.2 <= city["family_household_population"] / city["family_households"] <= 2.5  # 2.36
    assert 10 <= 100 * city["age_0_14"] / pop <= 16  # 13.02%
    assert 13 <= 100 * city["age_60_plus"] / pop <= 21  # 16.87%


@pytest.mark.slow  # the geography of 4.15 M and 5.05 M households: ~4 s
def test_hangzhou_size_geography_has_unique_codes():
    """Issue 16: at 4.15 M households, townships of 200+ villages gave an urban and a rural
    village the same number, and household IDs repeated. 5.05 M is the Hangzhou benchmark."""
    import random

    from census_demo.geography import MAX_DWELLING, build_geography

    for n in (4_150_000, 5_050_000):
        eas = build_geography(random.Random(1), n)
        codes = [ea.code for ea, _ in eas]
        assert len(codes) == len(set(codes))
        assert sum(h for _, h in eas) >= n - 1
        assert all(len(c) == 15 and c.isdigit() for c in codes)
        villages = {c[:12] for c in codes}
        assert all(1 <= int(v[9:]) <= 199 or 201 <= int(v[9:]) <= 399 for v in villages)
        # one urban/rural class per village: urban villages 0xx/1xx, rural 2xx/3xx
        ur = {}
        for ea, _ in eas:
            assert ur.setdefault(ea.code[:12], ea.urban_rural) == ea.urban_rural
            assert (ea.urban_rural[0] == "1") == (int(ea.code[9:12]) < 200)
        assert max(h for _, h in eas) <= MAX_DWELLING


def test_geography_check_refuses_repeats_and_overflows():
    import pytest

    from census_demo.geography import EA, check_geography

    a = EA("330106001001001", "111", "330106", "330106001")
    b = EA("330106001001002", "111", "330106", "330106001")
    check_geography([(a, 10), (b, 10)])
    with pytest.raises(ValueError, match="repeat"):
        check_geography([(a, 10), (b, 10), (a, 5)])
    with pytest.raises(ValueError, match="dwellings"):
        check_geography([(a, 10_000)])
    with pytest.raises(ValueError, match="malformed"):
        check_geography([(EA("3301060011001", "111", "330106", "330106001"), 3)])


def test_id_allocator_never_repeats_a_number():
    import datetime as dt

    import pytest

    from census_demo.ids import IdAllocator

    ids = IdAllocator()
    born = dt.date(1990, 5, 17)
    for sex in "12":
        got = [ids.new("330106", born, sex) for _ in range(IdAllocator.PER_CELL)]
        assert len(set(got)) == len(got) and all(idnumber.is_valid(x) for x in got)
        assert all(idnumber.sex(x) == sex for x in got)
        with pytest.raises(OverflowError):
            ids.new("330106", born, sex)  # the 501st would wrap the 3-digit sequence
    assert ids.new("330106", dt.date(1990, 5, 18), "1") not in got


@pytest.mark.slow  # 3,000 households: ~3 s
def test_generated_ids_are_unique(tmp_path):
    """Household IDs in the frame and on the authoritative forms, and citizen ID numbers in the
    register extract, never repeat."""
    import csv

    generate(tmp_path / "u", households=3000, seed=11)
    with open(tmp_path / "u/frame/listing.csv", encoding="utf-8") as f:
        hh = [r["household_id"] for r in csv.DictReader(f)]
    assert len(hh) == len(set(hh)) > 2900
    reg = []
    for p in (tmp_path / "u/admin/hukou").glob("hukou_2020-10-20_part*.csv"):
        enc = "gb18030" if "part2" in p.name else "utf-8"
        lines = [ln for ln in p.read_text(encoding=enc).splitlines() if not ln.startswith("#")]
        reg += [r["id_number"] for r in csv.DictReader(lines) if idnumber.is_valid(r["id_number"])]
    assert len(reg) > 3000 and len(reg) == len(set(reg))


def _tree(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.slow  # two censuses of 1,500 households, one in three processes: ~3 s
def test_same_output_whatever_the_number_of_workers(tmp_path):
    """Counties are drawn from their own random streams: 1 or 3 worker processes write the same
    bytes (landing zone, truth, truth links), and leave no parts behind."""
    one = generate(tmp_path / "one", households=1500, seed=4, workers=1)
    three = generate(tmp_path / "three", households=1500, seed=4, workers=3)
    assert one == three
    a, b = _tree(tmp_path / "one"), _tree(tmp_path / "three")
    assert a.keys() == b.keys() and a == b
    for suffix in (".truth.json", ".truth_links.csv.gz"):
        assert (tmp_path / f"one{suffix}").read_bytes() == (tmp_path / f"three{suffix}").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"{n}{s}" for n in ("one", "three") for s in ("", ".truth.json", ".truth_links.csv.gz"))


def test_the_pool_ends_its_workers_even_when_started_with_sigterm_ignored(monkeypatch):
    """A process started in the background here has SIGTERM ignored, and forked workers inherit
    it: the pool's terminate() (the end of its `with` block, or an error), which ends workers by
    SIGTERM, then waited for ever on a worker waiting for work (a test run stalled so in CI,
    2026-12-04). The workers are forked with the default, so terminate() ends them even before
    they have started: here each worker's start (the initializer) is held 3 s, as a loaded machine
    may hold a new process (a whole test run stalled so once, 2026-12-05, when the workers took
    the default back only in the initializer). This process keeps SIGTERM ignored."""
    import os
    import signal
    import threading
    import time

    from census_demo import generator

    def slow_start():
        time.sleep(3)
        generator._default_sigterm()

    monkeypatch.setattr(generator, "_default_sigterm", slow_start)
    before = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    pool = generator.county_pool(2)
    workers = list(pool._pool)  # the processes terminate() must end
    try:
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_IGN
        ending = threading.Thread(target=pool.terminate, daemon=True)
        ending.start()
        ending.join(30)
        assert not ending.is_alive(), "terminate() still waiting for its workers after 30 s"
        assert not any(w.is_alive() for w in workers)
    finally:
        for w in workers:  # without the fix: ended here, so that the test fails instead of hanging
            if w.is_alive():
                os.kill(w.pid, signal.SIGKILL)
        signal.signal(signal.SIGTERM, before)


def test_a_worker_forked_later_takes_sigterm_s_default_back_itself():
    """A worker the pool forks after it was made (to replace one that died) inherits this process's
    ignored SIGTERM, and takes the default back when it starts. (The worker killed here is busy
    with a task: an idle one holds the pool's queue lock while it waits, and killed so it would
    leave its replacement waiting for the lock for ever.)"""
    import os
    import signal
    import threading
    import time

    from census_demo.generator import county_pool

    before = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    pool = county_pool(1)
    first = pool._pool[0]
    try:
        pool.apply_async(time.sleep, (60,))
        time.sleep(1)  # the worker has taken the task (and released the queue's lock)
        os.kill(first.pid, signal.SIGKILL)
        first.join(10)
        assert pool.apply_async(os.getpid).get(30) != first.pid  # served by the worker forked in its place
        assert pool.apply_async(signal.getsignal, (signal.SIGTERM,)).get(30) == signal.SIG_DFL
    finally:
        ending = threading.Thread(target=pool.terminate, daemon=True)
        ending.start()
        ending.join(30)
        for w in [first, *pool._pool]:  # (none, once terminate() has ended them)
            if w.is_alive():
                os.kill(w.pid, signal.SIGKILL)
        signal.signal(signal.SIGTERM, before)


def test_truth_links_and_register_numbers_are_unique(tmp_path):
    import csv
    import gzip

    generate(tmp_path / "l", households=2000, seed=9)
    with gzip.open(tmp_path / "l.truth_links.csv.gz", "rt", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    keys = [(r["record_type"], r["record_key"]) for r in rows]
    assert len(keys) == len(set(keys)) > 4000
    hukou = [r for r in rows if r["record_type"] == "hukou"]
    assert len({r["person"] for r in hukou}) == len(hukou)  # one register record per person


def test_county_id_allocators_never_issue_the_same_number():
    """Counties draw their people apart: their allocators' parts of every sequence cell are
    disjoint, for their own area, another county's and one outside the city, and each raises
    rather than run past its part."""
    import datetime as dt

    import pytest

    from census_demo.calibration import COUNTY_POPULATION
    from census_demo.ids import IdAllocator

    born = dt.date(1985, 2, 3)
    issued = []
    for k, county in enumerate(COUNTY_POPULATION):
        ids = IdAllocator(home=county, slot=k)
        for area in ("330106", "330110", "340102", "330103"):
            for sex in "12":
                base, cap = ids._part(area)
                issued += [ids.new(area, born, sex) for _ in range(cap)]
                with pytest.raises(OverflowError):
                    ids.new(area, born, sex)
    assert len(issued) == len(set(issued)) and all(idnumber.is_valid(x) for x in issued)


def _dup_households(other: str):
    """Household a lists a counted person p and one `other` line; household b lists p again
    (submitted later, so b's record survives and a's is removed as a duplicate). Returns the
    generator after both have been counted, and a's and b's townships."""
    import datetime as dt

    from census_demo import Generator
    from census_demo.geography import EA

    g = Generator("unused", households=1, seed=1)
    ea_a = EA("330106011021002", "111", "330106", "330106011")
    ea_b = EA("330106012001001", "111", "330106", "330106012")
    p = g._person("0", 40, "2", None, "330106")
    if other == "born_after_standard_time":  # as _family_events plants one: not counted
        o = g._person("2", 0, "2", p.name[0], "330106")
        o.born, o.id_type, o.id_number = dt.date(2020, 11, 3), "9", None
        o.hukou_place, o.duration, o.reason, o.education, o.literate = "5", "1", None, None, None
    elif other == "non_citizen":  # id_type 3: enumerated, not part of the resident population
        o = g._person("9", 30, "1", None, "330106")
        o.id_type, o.id_number, o.name, o.hukou_place = "3", "E12345678", "SMITH JOHN", "5"
    else:  # a resident who counts: the household still counts without p
        o = g._person("2", 10, "1", p.name[0], "330106")
    a = {"ea": ea_a, "type": "1"}
    a["auth"] = {"submission_id": "a" * 8, "status": "final", "submitted_at": "2020-11-05T10:00:00+08:00",
                 "persons": [g._person_json(p, 1, False), g._person_json(o, 2, False)]}
    g._count(a, a["auth"])
    copy = dataclasses.replace(p, rel="8", in_register=False)
    b = {"ea": ea_b, "type": "1", "dup_of": (a, p, copy)}
    auth_b = {"submission_id": "b" * 8, "status": "final", "submitted_at": "2020-11-09T10:00:00+08:00",
              "persons": [g._person_json(g._person("0", 50, "1", None, "330106"), 1, False),
                          g._person_json(copy, 2, False)]}
    b["auth"] = auth_b
    g._count(b, auth_b)
    return g, ea_a.township, ea_b.township


@pytest.mark.parametrize("other", ["born_after_standard_time", "non_citizen"])
def test_household_left_with_no_counted_person_by_a_duplicate_does_not_count(other):
    """At 1 M persons (seed 1) the truth had one family household too many: H3301060110210020015's
    person was removed as a duplicate, and its only other line, a baby born after the standard
    time, does not count; _uncount took the baby for a counted person (it only applied the
    residence rule, and told lines apart by ID number, which the baby has none of)."""
    g, t_a, t_b = _dup_households(other)
    c = g.truth.county["330106"]
    assert c["family_households"] == 1  # b only
    assert g.truth.township[t_a]["households"] == 0 and g.truth.township[t_b]["households"] == 1
    assert c["population"] == c["family_household_population"] == 2  # p once, in b, and b's head
    assert g.truth.township[t_a]["population"] == 0


def test_household_keeps_counting_when_another_person_still_counts():
    g, t_a, t_b = _dup_households("resident_child")
    c = g.truth.county["330106"]
    assert c["family_households"] == 2
    assert g.truth.township[t_a]["households"] == 1 and g.truth.township[t_a]["population"] == 1
    assert c["population"] == c["family_household_population"] == 3


def _three_ea_generator():
    """A generator, three EAs of one township's county, and a household maker that counts each
    household as the generator does (the duplicate bookkeeping tests)."""
    from census_demo import Generator
    from census_demo.geography import EA

    g = Generator("unused", households=1, seed=1)
    ea = {k: EA(f"3301060{k}1001001", "111", "330106", f"3301060{k}1") for k in "123"}

    def household(k, lines, at, **more):
        hh = {"ea": ea[k], "type": "1", **more}
        hh["auth"] = {"submission_id": k * 8, "status": "final", "submitted_at": f"2020-11-0{at}T10:00:00+08:00",
                      "persons": [g._person_json(x, i + 1, False) for i, x in enumerate(lines)]}
        g._count(hh, hh["auth"])
        return hh

    return g, ea, household


def test_household_whose_planted_copy_already_lost_stops_counting_with_its_last_person():
    """A household a of one person p also lists a copy of x's person q, submitted earlier, so the
    copy lost to x; then p loses to b's copy of p. Both of a's records are removed: a no longer
    counts, and q is not taken out of a a second time."""
    g, ea, household = _three_ea_generator()
    q, p = g._person("0", 50, "1", None, "330106"), g._person("0", 40, "2", None, "330106")
    q_copy, p_copy = (dataclasses.replace(x, rel="8", in_register=False) for x in (q, p))

    x = household("1", [q], 8)
    a = household("2", [p, q_copy], 5, dup_of=(x, q, q_copy))  # x is later: a's copy of q is removed
    household("3", [p_copy], 9, dup_of=(a, p, p_copy))  # b is later: a's p is removed
    c = g.truth.county["330106"]
    assert c["family_households"] == 2 and c["duplicates_removed"] == 2
    t = g.truth.township[ea["2"].township]
    assert c["population"] == 2 and t["households"] == t["population"] == t["male"] == t["female"] == 0


@pytest.mark.parametrize("b_day, survivor", [(9, "b"), (7, "x")])
def test_a_person_with_three_records_counts_once_in_the_latest(b_day, survivor):
    """x lists q; a lists a copy of q (earlier: it loses to x); b lists a copy of a's copy. The
    three records are one person: the latest of all three survives (rules.md, 不重), not the
    later of a's and b's."""
    g, ea, household = _three_ea_generator()
    q, r = g._person("0", 50, "1", None, "330106"), g._person("0", 40, "2", None, "330106")
    q_a = dataclasses.replace(q, rel="8", in_register=False)
    q_b = dataclasses.replace(q_a)

    x = household("1", [q], 8)
    a = household("2", [r, q_a], 5, dup_of=(x, q, q_a))
    household("3", [q_b], b_day, dup_of=(a, q_a, q_b))
    c, t = g.truth.county["330106"], g.truth.township
    assert c["population"] == 2 and c["duplicates_removed"] == 2  # q once, and r
    assert t[ea["2"].township]["population"] == 1 and t[ea["2"].township]["households"] == 1
    counted = {k for k in "13" if t[ea[k].township]["households"]}
    assert counted == {"3" if survivor == "b" else "1"}
    assert c["family_households"] == 2 and sum(t[ea[k].township]["population"] for k in "13") == 1
