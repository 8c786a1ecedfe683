"""The demo generator: deterministic, contract-shaped, calibrated."""

import json

from census_pipeline.lib import idnumber
from census_pipeline.lib.generator import generate


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
    files = [p for p in (landing / "uploads").rglob("*.jsonl") if not p.name.startswith(".")]
    line = files[0].read_text(encoding="utf-8-sig").splitlines()[0]
    sub = json.loads(line) if line.startswith("{") and line.endswith("}") else None
    if sub:
        assert {"submission_id", "channel", "form", "status", "persons"} <= set(sub)
    valid_ids = 0
    for p in files[:20]:
        for ln in p.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                s = json.loads(ln)
            except ValueError:
                continue
            if isinstance(s, dict) and isinstance(s.get("persons"), list):
                valid_ids += sum(idnumber.is_valid(pp.get("id_number")) for pp in s["persons"] if isinstance(pp, dict))
    assert valid_ids > 100
    assert truth["defects"]["in_flight_files"] == 3


def test_calibrated_to_the_published_figures(tmp_path):
    city = generate(tmp_path / "cal", households=8000, seed=3)["city"]
    pop = city["population"]
    assert 100 <= 100 * city["male"] / city["female"] <= 116  # published 108.67
    assert 2.2 <= city["family_household_population"] / city["family_households"] <= 2.5  # 2.36
    assert 10 <= 100 * city["age_0_14"] / pop <= 16  # 13.02%
    assert 13 <= 100 * city["age_60_plus"] / pop <= 21  # 16.87%


def test_hangzhou_size_geography_has_unique_codes():
    """Issue 16: at 4.15 M households, townships of 200+ villages gave an urban and a rural
    village the same number, and household IDs repeated. 5.05 M is the Hangzhou benchmark."""
    import random

    from census_pipeline.lib.generator import MAX_DWELLING, build_geography

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

    from census_pipeline.lib.generator import EA, check_geography

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

    from census_pipeline.lib.generator import IdAllocator

    ids = IdAllocator()
    born = dt.date(1990, 5, 17)
    for sex in "12":
        got = [ids.new("330106", born, sex) for _ in range(IdAllocator.PER_CELL)]
        assert len(set(got)) == len(got) and all(idnumber.is_valid(x) for x in got)
        assert all(idnumber.sex(x) == sex for x in got)
        with pytest.raises(OverflowError):
            ids.new("330106", born, sex)  # the 501st would wrap the 3-digit sequence
    assert ids.new("330106", dt.date(1990, 5, 18), "1") not in got


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

    from census_pipeline.lib.generator import IdAllocator
    from census_pipeline.lib.geography import COUNTY_POPULATION

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
