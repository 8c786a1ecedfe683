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
