"""Batch files: submission lines written as PADs and phones upload them, with the file-level
defects planted (re-deliveries, gzip, damaged copies, byte-order marks, CRLF, blank lines)."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import os
import random
import uuid
import zlib
from pathlib import Path

from census_demo.fast import uuid_str
from census_demo.rates import Rates
from census_demo.truth import Truth


class BatchWriter:
    """Writes submission lines into `uploads/<channel>/<date>/<batch>.jsonl[.gz]`, rotating at
    `batch_size` lines, and plants file-level defects (re-deliveries, gzip, damage, BOM)."""

    def __init__(self, root: Path, rng: random.Random, rates: Rates, batch_size: int, truth: Truth,
                 folder: str = "uploads"):
        self.root, self.rng, self.rates, self.batch_size, self.truth = root, rng, rates, batch_size, truth
        self.folder = folder  # uploads/<channel>/<date>/, or pes/<date>/
        self.open: dict[tuple[str, str], dict] = {}
        self.closed: list[dict] = []
        self.made: set[Path] = set()  # folders known to exist

    def _dir(self, channel: str, date: str) -> str:
        return f"pes/{date}" if self.folder == "pes" else f"uploads/{channel}/{date}"

    def write(self, channel: str, upload_date: str, line: str, *, good: bool) -> None:
        key = (channel, upload_date)
        f = self.open.get(key)
        if f is None:
            f = self._open(channel, upload_date)
            self.open[key] = f
        f["buf"].write(line + f["eol"])
        f["received"] += 1
        f["quarantined"] += 0 if good else 1
        if f["blank_every"] and f["received"] % f["blank_every"] == 0:
            f["buf"].write(f["eol"])  # blank lines are not received lines
        if f["received"] >= self.batch_size:
            self._close(key)

    def _open(self, channel: str, upload_date: str) -> dict:
        rng = self.rng
        rel = f"{self._dir(channel, upload_date)}/{uuid_str(rng.getrandbits(128))}.jsonl"
        buf = io.StringIO()
        if rng.random() < 0.05:
            buf.write("\ufeff")  # a byte-order mark some phones write
        return {
            "rel": rel, "buf": buf, "received": 0, "quarantined": 0, "channel": channel,
            "date": upload_date, "gz": rng.random() < self.rates.gzip_file,
            "eol": "\r\n" if rng.random() < 0.05 else "\n",
            "blank_every": rng.choice((0, 0, 0, 0, 37)),
        }

    def _close(self, key) -> None:
        f = self.open.pop(key)
        data = f["buf"].getvalue().encode("utf-8", "surrogateescape")
        rel = f["rel"] + (".gz" if f["gz"] else "")
        self._put(rel, gzip.compress(data, mtime=0) if f["gz"] else data)
        self.truth.file(rel, f["received"], f["quarantined"])
        f["data"] = data
        if self.rng.random() < self.rates.redelivered_batch:
            self._redeliver(f)
        if self.rng.random() < self.rates.truncated_gzip:
            self._damaged_copy(f)

    def _later_date(self, date: str) -> str:
        d = dt.date.fromisoformat(date) + dt.timedelta(days=self.rng.randint(0, 3))
        return min(d, dt.date(2020, 12, 31) if self.folder == "pes" else dt.date(2020, 11, 30)).isoformat()

    def _redeliver(self, f: dict) -> None:
        """The same batch again, under a new name, possibly a later day and gzip."""
        name = uuid.UUID(int=self.rng.getrandbits(128))
        rel = f"{self._dir(f['channel'], self._later_date(f['date']))}/{name}.jsonl"
        if self.rng.random() < 0.5:
            rel += ".gz"
            self._put(rel, gzip.compress(f["data"], mtime=0))
        else:
            self._put(rel, f["data"])
        self.truth.file(rel, f["received"], f["quarantined"])
        self.truth.defects["redelivered_batch_files"] += 1

    def _damaged_copy(self, f: dict) -> None:
        """A gzip re-delivery cut short in transfer: the lines before the damage count."""
        whole = gzip.compress(f["data"], mtime=0)
        cut = whole[: max(20, int(len(whole) * self.rng.uniform(0.3, 0.8)))]
        d = zlib.decompressobj(wbits=31)
        try:
            readable = d.decompress(cut)
        except zlib.error:
            readable = b""
        lines = readable.split(b"\n")[:-1]  # the last piece is cut mid-line
        if lines and lines[0].startswith(b"\xef\xbb\xbf"):
            lines[0] = lines[0][3:]
        complete = [ln for ln in lines if ln.strip()]
        bad = sum(1 for ln in complete if ln.rstrip(b"\r") in self.truth.bad_lines)
        rel = f"{self._dir(f['channel'], self._later_date(f['date']))}/{uuid.UUID(int=self.rng.getrandbits(128))}.jsonl.gz"
        self._put(rel, cut)
        # every complete line before the damage, plus one quarantine row for the rest
        self.truth.file(rel, len(complete) + 1, bad + 1)
        self.truth.defects["truncated_gzip_files"] += 1

    def _put(self, rel: str, data: bytes) -> None:
        path = self.root / rel
        if path.parent not in self.made:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.made.add(path.parent)
        tmp = path.with_name(path.name + ".part")
        tmp.write_bytes(data)
        os.replace(tmp, path)  # written whole, then renamed into place, as the contract says

    def finish(self) -> None:
        for key in list(self.open):
            self._close(key)
