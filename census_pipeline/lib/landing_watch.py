"""What the landing-zone sensor looks at: complete files, ordered by when they landed.

Files are written whole and renamed into place (landing_zone.md); a rename updates the
file's change time (ctime), so (ctime, path) orders files by when they became complete, and
a cursor on it sees each file exactly once. In-flight names (.part, .tmp, dot files) are
never listed. Only file names and times are read: the sensor never opens the warehouse.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from census_pipeline.lib.ingest import is_in_flight

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


def new_since(root: Path, cursor: str | None) -> tuple[list[str], str | None]:
    """Files that landed after the cursor, and the cursor after them (unchanged if none)."""
    last = tuple(json.loads(cursor)) if cursor else (-1, "")
    new = [(t, p) for t, p in complete_files(root) if (t, p) > last]
    if not new:
        return [], cursor
    return [p for _, p in new], json.dumps(list(new[-1]))
