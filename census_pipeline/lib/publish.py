"""All-or-nothing publication: a published folder is written whole, then swapped in.

Readers of $CENSUS_OUTPUT_DIR/bulletin/ must never see half a bulletin (new CSVs beside an old
XLSX, or CSVs without the HTML because a later step failed). Every file is written into a
staging folder beside the published one; only when all are written does a rename put the new
folder in place. A run that fails or is halted before publishing leaves the last bulletin as
it was, marked stale (STALE.txt inside it) until the next successful publication replaces the
whole folder.

Every published folder carries a manifest.json: the stamp (run id, code version, a hash of the
ingest ledger as the data snapshot, time) and each file's size and sha256, so that a bulletin
found later can be checked against what was published (`verify_manifest`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import importlib.metadata
import json
import shutil
import subprocess
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


# ----------------------------------------------------------------------------- stamp and manifest

MANIFEST_FILE = "manifest.json"
# Notes that may be added to a published folder after its manifest was written (mark_stale)
NOT_IN_MANIFEST = frozenset({MANIFEST_FILE, STALE_FILE})
PROJECT_ROOT = Path(__file__).resolve().parents[2]


@dataclasses.dataclass(frozen=True)
class Stamp:
    """What a published file was made from: which run, which code, which data, when."""

    run_id: str
    code_version: str
    data_snapshot: str  # sha256 of the ingest ledger (every landing file read, its size and lines)
    published_at: str  # ISO 8601, UTC

    def lines(self) -> list[tuple[str, str]]:
        """(Chinese label, value) pairs, for a notes sheet or a footer."""
        return [("运行编号 run id", self.run_id), ("程序版本 code version", self.code_version),
                ("数据快照 data snapshot (sha256)", self.data_snapshot), ("生成时间 published at (UTC)", self.published_at)]


def code_version(root: Path = PROJECT_ROOT) -> str:
    """`git describe --always --dirty` of the code that ran, when it runs from a git checkout;
    otherwise the installed package's version."""
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=root, capture_output=True, text=True,
                             timeout=20, check=True).stdout.strip()
        if out:
            return out
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        return "census-pipeline " + importlib.metadata.version("census-pipeline")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


# every landing file read, as the ledger has it; a re-delivered or added file changes the hash
SNAPSHOT_SQL = ("select source_file, size_bytes, lines_received, lines_ingested, lines_quarantined "
                "from quality.ingest_ledger order by source_file")


def data_snapshot(con) -> str:
    """sha256 over the ingest ledger's rows (one text line per landing file), streamed in batches."""
    digest = hashlib.sha256()
    cur = con.execute(SNAPSHOT_SQL)
    while batch := cur.fetchmany(10_000):
        for row in batch:
            digest.update(("\t".join("" if v is None else str(v) for v in row) + "\n").encode("utf-8"))
    return digest.hexdigest()


def make_stamp(con, run_id: str, now: dt.datetime | None = None) -> Stamp:
    now = now or dt.datetime.now(dt.UTC)
    return Stamp(run_id=run_id, code_version=code_version(), data_snapshot=data_snapshot(con),
                 published_at=now.astimezone(dt.UTC).isoformat(timespec="seconds"))


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def write_manifest(folder: Path, stamp: Stamp) -> Path:
    """manifest.json in `folder`: the stamp and every file beside it with its size and sha256.
    Written last, just before the folder is swapped in."""
    folder = Path(folder)
    files = [{"name": p.name, "bytes": p.stat().st_size, "sha256": file_sha256(p)}
             for p in sorted(folder.iterdir()) if p.is_file() and p.name not in NOT_IN_MANIFEST]
    path = folder / MANIFEST_FILE
    path.write_text(json.dumps({"stamp": dataclasses.asdict(stamp), "files": files}, ensure_ascii=False, indent=2)
                    + "\n", encoding="utf-8")
    return path


def verify_manifest(folder: Path) -> list[str]:
    """Problems found checking a published folder against its manifest.json: files missing,
    changed (size or sha256) or not in the manifest. Empty when the bulletin is as published.
    A STALE.txt note (lib/publish.mark_stale) is expected to appear later and is not a problem."""
    folder = Path(folder)
    try:
        manifest = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
        listed = {f["name"]: f for f in manifest["files"]}
    except (OSError, ValueError, KeyError, TypeError) as e:
        return [f"{MANIFEST_FILE} unreadable: {e}"]
    problems = []
    for name, entry in sorted(listed.items()):
        path = folder / name
        if not path.is_file():
            problems.append(f"{name}: missing")
        elif path.stat().st_size != entry["bytes"] or file_sha256(path) != entry["sha256"]:
            problems.append(f"{name}: changed since publication (size or sha256 differs)")
    for path in sorted(folder.iterdir()):
        if path.name not in listed and path.name not in NOT_IN_MANIFEST:
            problems.append(f"{path.name}: not in the manifest")
    return problems
