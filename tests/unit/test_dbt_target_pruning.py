"""dbt's per-invocation folders and per-warehouse parse states are pruned: the newest kept, none a
build may still use."""

import os
import time

from census_pipeline.defs.dbt import prune_invocation_folders, prune_parse_states


def _folder(target, name, age_s, now):
    p = target / name
    p.mkdir()
    (p / "manifest.json").write_text("{}")
    os.utime(p, (now - age_s, now - age_s))
    return p


def test_old_invocation_folders_go_and_the_newest_stay(tmp_path):
    now = time.time()
    micro = [_folder(tmp_path, f"census_microdata_models-{i:07x}-abc1234", 7200 + i * 60, now) for i in range(14)]
    bulletin = [_folder(tmp_path, f"census_bulletin_models-{i:07x}-def5678", 7200 + i * 60, now) for i in range(3)]
    young = _folder(tmp_path, "census_microdata_models-fffffff-0000000", 7200 * 2, now)
    os.utime(young, (now - 60, now - 60))  # a build still running in another process
    (tmp_path / "compiled").mkdir()  # dbt's own folders are never touched
    (tmp_path / "manifest.json").write_text("{}")

    removed = prune_invocation_folders(tmp_path, keep=10, older_than_s=3600, now=now)

    assert removed == 5  # 15 microdata folders, 10 kept; the young one is among the newest
    kept = sorted(p.name for p in tmp_path.glob("census_microdata_models-*"))
    assert len(kept) == 10 and young.name in kept
    assert [p.exists() for p in micro] == [True] * 9 + [False] * 5
    assert all(p.exists() for p in bulletin)
    assert (tmp_path / "compiled").is_dir() and (tmp_path / "manifest.json").exists()
    assert prune_invocation_folders(tmp_path, keep=10, older_than_s=3600, now=now) == 0


def test_parse_states_of_warehouses_no_longer_built_go(tmp_path):
    now = time.time()
    states = []
    for i in range(14):
        p = tmp_path / f"{i:016x}.msgpack"
        p.write_bytes(b"state")
        os.utime(p, (now - 7200 - i * 60, now - 7200 - i * 60))
        states.append(p)
    os.utime(states[-1], (now - 30, now - 30))  # the oldest, read by a build just now
    (tmp_path / "x.123.tmp").write_bytes(b"being written")  # not a state yet: never touched

    assert prune_parse_states(tmp_path, keep=10, older_than_s=3600, now=now) == 4

    assert [p.exists() for p in states] == [True] * 9 + [False] * 4 + [True]
    assert (tmp_path / "x.123.tmp").exists()
    assert prune_parse_states(tmp_path, keep=10, older_than_s=3600, now=now) == 0
