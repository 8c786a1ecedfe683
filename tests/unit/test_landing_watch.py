"""The landing-zone sensor's cursor: every complete file seen exactly once, however the files
land between the sensor's looks, including files renamed into place within one clock tick."""

from __future__ import annotations

import os
from pathlib import Path

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


def test_in_flight_files_are_never_listed_and_a_file_appears_once(tmp_path):
    (tmp_path / "uploads").mkdir()
    (tmp_path / "uploads" / "half.jsonl.part").write_text("{")
    (tmp_path / "uploads" / ".hidden.jsonl").write_text("{}")
    assert new_since(tmp_path, None) == ([], None)
    _land(tmp_path, "a")
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

    landing_watch.complete_files = same_tick if one_tick else real
    try:
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
    finally:
        landing_watch.complete_files = real
