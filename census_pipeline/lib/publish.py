"""All-or-nothing publication: a published folder is written whole, then swapped in.

Readers of $CENSUS_OUTPUT_DIR/bulletin/ must never see half a bulletin (new CSVs beside an old
XLSX, or CSVs without the HTML because a later step failed). Every file is written into a
staging folder beside the published one; only when all are written does a rename put the new
folder in place. A run that fails or is halted before publishing leaves the last bulletin as
it was, marked stale (STALE.txt inside it) until the next successful publication replaces the
whole folder.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path

STALE_FILE = "STALE.txt"


def _previous(final: Path, run_id: str) -> Path:
    return final.with_name(f".{final.name}.previous-{run_id}")


def recover(final: Path) -> None:
    """Put back a published folder moved aside by a swap that was cut short (a crash between
    its two renames), and drop staging folders that runs left behind."""
    for leftover in sorted(final.parent.glob(f".{final.name}.previous-*")):
        if final.exists():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.rename(final)
    for staging in final.parent.glob(f".{final.name}.staging-*"):
        shutil.rmtree(staging, ignore_errors=True)


@contextlib.contextmanager
def staged_folder(final: Path, run_id: str) -> Iterator[Path]:
    """Yield an empty staging folder; when the block ends without an error, it becomes `final`
    (the old `final` is removed); when it raises, `final` is untouched and the staging is removed."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    recover(final)
    staging = final.with_name(f".{final.name}.staging-{run_id}")
    staging.mkdir()
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    previous = _previous(final, run_id)
    if final.exists():
        final.rename(previous)
    staging.rename(final)
    shutil.rmtree(previous, ignore_errors=True)


def mark_stale(final: Path, run_id: str, why: str, now: dt.datetime | None = None) -> Path | None:
    """Mark the published folder `final` (when there is one) as out of date: the run `run_id`
    failed or was halted before it could publish. Returns the STALE.txt written, if any."""
    final = Path(final)
    if not final.is_dir():
        return None
    now = now or dt.datetime.now(dt.UTC)
    note = final / STALE_FILE
    note.write_text(
        "STALE: these files are from an earlier run. A later run did not publish a new bulletin.\n"
        f"failed run: {run_id}\n"
        f"at: {now.isoformat(timespec='seconds')}\n"
        f"why: {why}\n"
        "This file disappears when a run publishes successfully.\n", encoding="utf-8")
    return note
