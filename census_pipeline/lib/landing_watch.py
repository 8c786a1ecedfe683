"""What the landing-zone sensor looks at: complete files, ordered by when they landed.

Files are written whole and renamed into place (landing_zone.md); a rename updates the
file's change time (ctime), so ctime orders files by when they became complete; the cursor keeps
the newest ctime and every path seen with it, so a file is requested once (new_since). In-flight
names (.part, .tmp, dot files) are never listed. Only file names and times are read, except on the sensor's first tick (no cursor
yet): then the ledger's file names are read once (`ingested_files`), under the runs' own lock, so
a sensor switched on beside a warehouse that already holds the landing zone does not start a
run for files already ingested.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from pathlib import Path

import duckdb

from census_pipeline.lib.landing_files import is_in_flight

WATCHED = ("uploads", "pes", "admin", "frame")


def complete_files(root: Path) -> list[tuple[int, str]]:
    """(ctime in ns, relative path) of every complete landing file, oldest first."""
    out = []
    for sub in WATCHED:
        base = root / sub
        if not base.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            for name in filenames:
                p = Path(dirpath) / name
                if not is_in_flight(p):
                    out.append((p.stat().st_ctime_ns, p.relative_to(root).as_posix()))
    return sorted(out)


def _read_cursor(cursor: str | None) -> tuple[int, set[str]]:
    """(the newest change time seen, every path seen with that time). A cursor of an older
    release held one path, `[time, path]`: other files of that very time look new once more,
    which costs at most one run that finds nothing to ingest (the ledger reads a file once)."""
    if not cursor:
        return -1, set()
    t, seen = json.loads(cursor)
    return t, set(seen) if isinstance(seen, list) else {seen}


SETTLE_S = 2.0  # a file younger than this waits for the next look (see new_since); tests set it to 0


def new_since(root: Path, cursor: str | None) -> tuple[list[str], str | None]:
    """Files that landed after the cursor, and the cursor after them (unchanged if none).

    Change times come from a coarse clock (a few milliseconds): two files renamed into place in
    the same tick share one ctime, and a tick may look between them. So the cursor keeps the
    newest ctime *and every path seen with it*: a file of that same ctime that was not there at
    the last look is still new (a cursor of one (time, path) would skip it when its name sorts
    before the path).

    And a file younger than SETTLE_S waits for the next look: the walk over the
    folders takes time, and a file renamed into a folder already walked, while a later file lands
    in one not yet walked, would otherwise fall behind the cursor for good."""
    settle_ns = int(SETTLE_S * 1e9)
    now = time.time_ns()
    last_t, seen = _read_cursor(cursor)
    new = [(t, p) for t, p in complete_files(root)
           if (t > last_t or (t == last_t and p not in seen)) and t <= now - settle_ns]
    if not new:
        return [], cursor
    newest = new[-1][0]
    at_newest = sorted({p for t, p in new if t == newest} | (seen if newest == last_t else set()))
    return [p for _, p in new], json.dumps([newest, at_newest])


def ingested_files(warehouse: Path) -> set[str] | None:
    """The landing files the warehouse's ingest ledger holds (relative paths); an empty set when
    there is no warehouse or no ledger yet; None when a run is writing the warehouse (it holds
    `<warehouse>.lock`, resources/warehouse.py): the caller looks again on its next tick. The lock
    is taken without waiting and held only while the names are read, so a run that starts then
    waits milliseconds, and DuckDB's one-writer lock is never contended."""
    if not warehouse.exists():
        return set()
    with open(str(warehouse) + ".lock", "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return None
        try:
            with contextlib.closing(duckdb.connect(str(warehouse), read_only=True)) as con:
                has_ledger = con.execute("select count(*) from information_schema.tables "
                                         "where table_schema = 'raw' and table_name = 'ingest_files'").fetchall()[0][0]
                if not has_ledger:
                    return set()
                return {r[0] for r in con.execute("select source_file from raw.ingest_files").fetchall()}
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
