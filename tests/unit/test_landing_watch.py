"""The landing-zone sensor's cursor: every complete file seen exactly once, however the files
land between the sensor's looks, including files renamed into place within one clock tick.

The settle time is set as tests/integration/test_automation.py sets it for the sensor: SETTLE_S
patched (0 where the files here land a moment before the look)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from census_pipeline.lib import landing_watch
from census_pipeline.lib.landing_watch import new_since

NAMES = st.text(alphabet="abcz019-_", min_size=1, max_size=6)


def _land(root: Path, name: str, text: str = "{}\n") -> None:
    """Write as a producer does: a .part file, then a rename into place."""
    day = root / "uploads" / "pad" / "2020-11-02"
    day.mkdir(parents=True, exist_ok=True)
    part = day / f"{name}.jsonl.part"
    part.write_text(text)
    os.replace(part, day / f"{name}.jsonl")


def test_in_flight_files_are_never_listed_and_a_file_appears_once(tmp_path, monkeypatch):
    settle = landing_watch.SETTLE_S
    monkeypatch.setattr(landing_watch, "SETTLE_S", 0.0)
    (tmp_path / "uploads").mkdir()
    (tmp_path / "uploads" / "half.jsonl.part").write_text("{")
    (tmp_path / "uploads" / ".hidden.jsonl").write_text("{}")
    assert new_since(tmp_path, None) == ([], None)
    _land(tmp_path, "a")
    monkeypatch.setattr(landing_watch, "SETTLE_S", settle)
    assert new_since(tmp_path, None) == ([], None)  # younger than SETTLE_S: the next look takes it
    monkeypatch.setattr(landing_watch, "SETTLE_S", 0.0)
    files, cursor = new_since(tmp_path, None)
    assert files == ["uploads/pad/2020-11-02/a.jsonl"]
    assert new_since(tmp_path, cursor) == ([], cursor)


@settings(max_examples=60, deadline=None)
@given(batches=st.lists(st.lists(NAMES, min_size=1, max_size=4, unique=True), min_size=1, max_size=5),
       one_tick=st.booleans())
def test_every_file_is_seen_exactly_once_whatever_lands_between_looks(tmp_path_factory, batches, one_tick):
    """Files land in batches; the sensor looks after each batch. With `one_tick`, every file has
    the same change time (a coarse clock: renames within one tick), so only the names tell the
    files apart, in any order, and a later file may sort before one already seen."""
    root = tmp_path_factory.mktemp("landing")
    real = landing_watch.complete_files

    def same_tick(r):
        return [(0, p) for _, p in real(r)]

    with pytest.MonkeyPatch.context() as mp:  # not the monkeypatch fixture: one test, many examples
        mp.setattr(landing_watch, "complete_files", same_tick if one_tick else real)
        mp.setattr(landing_watch, "SETTLE_S", 0.0)
        seen: list[str] = []
        cursor = None
        landed: set[str] = set()
        for batch in batches:
            for name in batch:
                if name not in landed:
                    _land(root, name)
                    landed.add(name)
            files, cursor = new_since(root, cursor)
            seen += files
        assert sorted(seen) == sorted(f"uploads/pad/2020-11-02/{n}.jsonl" for n in landed)
        assert len(seen) == len(set(seen))
        assert new_since(root, cursor) == ([], cursor)


def test_a_file_landing_behind_the_walk_waits_and_is_not_lost(monkeypatch):
    """The walk passes folder a/, then file a/1 lands (ctime t) while b/2 lands (t + 1 ns) in a
    folder not yet walked: the first look sees only b/2. Without a settle time the cursor moves
    to b/2's time and a/1, older, is never requested; with it, both wait and come together."""
    t = 10**18
    looks = iter([[(t + 1, "uploads/b/2.jsonl")], [(t, "uploads/a/1.jsonl"), (t + 1, "uploads/b/2.jsonl")]] * 2)
    monkeypatch.setattr(landing_watch, "complete_files", lambda root: next(looks))
    monkeypatch.setattr(landing_watch.time, "time_ns", lambda: t + 1 + 500_000_000)  # half a second later

    settle = landing_watch.SETTLE_S
    monkeypatch.setattr(landing_watch, "SETTLE_S", 0.0)
    first, cursor = new_since(Path("."), None)
    assert first == ["uploads/b/2.jsonl"] and new_since(Path("."), cursor)[0] == []  # a/1 lost

    monkeypatch.setattr(landing_watch, "SETTLE_S", settle)
    assert new_since(Path("."), None) == ([], None)  # both younger than SETTLE_S: the next look
    monkeypatch.setattr(landing_watch.time, "time_ns", lambda: t + 3_000_000_000)
    assert new_since(Path("."), None)[0] == ["uploads/a/1.jsonl", "uploads/b/2.jsonl"]
