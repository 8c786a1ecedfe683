"""The landing zone's files, before any table: which files are complete, their names in the
ledger, and the per-file work before DuckDB reads their bytes (gzip salvage, a safe name for a
name DuckDB would glob, transcoding a declared-encoding register extract). Pure file work:
nothing here opens the warehouse (that is census_pipeline/defs/ingestion/ingest.py)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import zlib
from pathlib import Path

IN_FLIGHT_SUFFIXES = (".part", ".tmp")
GZIP_MAGIC = b"\x1f\x8b"
GLOB_CHARS = frozenset("*?[]{}\\")  # DuckDB expands these in a file name: such a file is read through a symlink


def is_in_flight(path: Path) -> bool:
    """A file still being written: leave it alone (landing_zone.md)."""
    return path.name.startswith(".") or path.name.endswith(IN_FLIGHT_SUFFIXES)


def list_files(root: Path, sub: str, suffixes: tuple[str, ...]) -> list[Path]:
    """Complete files under root/sub with one of the suffixes, in a stable order."""
    base = root / sub
    if not base.is_dir():
        return []
    out = []
    seen: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(base, followlinks=True):  # a symlinked day folder is read
        real = os.path.realpath(dirpath)
        if real in seen:  # a symlink loop, or a folder reached twice
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            p = Path(dirpath) / name
            if not is_in_flight(p) and name.endswith(suffixes):
                out.append(p)
    return sorted(out)


def rel(root: Path, path: Path) -> str:
    """The file's name in the ledger and the quarantine. A name that is not UTF-8 (its bytes come
    back from the OS as surrogates) is written with backslash escapes: DuckDB holds UTF-8 only."""
    name = path.relative_to(root).as_posix()
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        name = os.fsencode(name).decode("utf-8", "backslashreplace")
    return name


@dataclasses.dataclass
class Salvage:
    """A file read whole, or not: the bytes DuckDB should split into lines (None: nothing
    readable), and a quarantine row (first line not read, reason) for what could not be read."""

    readable: Path | None
    first_bad_line: int | None = None
    reason: str | None = None


def is_gzip(path: Path) -> bool:
    if path.name.endswith(".gz"):
        return True
    with open(path, "rb") as f:  # a compressed batch without its .gz suffix
        return f.read(2) == GZIP_MAGIC


def gunzip(path: Path, out: Path) -> Salvage:
    """Decompress every gzip member of `path` into `out`, streaming. On damage (truncated,
    corrupt, trailing garbage) keep every complete line before it and name the first line
    that could not be read whole: the rest of the file is one quarantine row."""
    newlines, kept_to, written = 0, 0, 0
    d, fed, damage = zlib.decompressobj(wbits=31), False, None
    with open(path, "rb") as src, open(out, "wb") as dst:

        def write(data: bytes) -> None:
            nonlocal newlines, kept_to, written
            if data:
                dst.write(data)
                n = data.count(b"\n")
                if n:
                    newlines += n
                    kept_to = written + data.rfind(b"\n") + 1
                written += len(data)

        try:
            while chunk := src.read(1 << 20):
                data = chunk
                while data:
                    fed = True
                    write(d.decompress(data))
                    if d.eof:  # the next gzip member, if any, starts in unused_data
                        data = d.unused_data
                        d, fed = zlib.decompressobj(wbits=31), False
                    else:
                        data = b""
            if fed and not d.eof:
                write(d.flush())
                damage = "gzip file is truncated"
        except zlib.error:
            damage = "gzip file is corrupt" if written else "not a readable gzip file"
        if damage:
            dst.truncate(kept_to)
    if damage is None:
        return Salvage(out)
    if kept_to == 0 and written == 0:
        return Salvage(None, None, damage + ": nothing in it could be read")
    return Salvage(out, newlines + 1, f"{damage}: this line and the rest of the file could not be read")


def needs_link(path: Path) -> bool:
    """DuckDB cannot be given this name as it is: a glob character, or bytes that are not UTF-8."""
    name = str(path)
    if not GLOB_CHARS.isdisjoint(name):
        return True
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def prepare_file(path: Path, workdir: Path, i: int) -> Salvage:
    """Per-file work before DuckDB reads the bytes: decompress gzip, and give every file a safe
    name where it needs one (DuckDB takes file names as glob patterns: `[`, `*`, `?` in a landing
    name would change what it reads): a symlink to the landing file."""
    safe = workdir / f"f{i:06d}.bin"
    try:
        if is_gzip(path):
            return gunzip(path, safe)
        with open(path, "rb"):
            pass
        if not needs_link(path):
            return Salvage(path)
        os.symlink(os.path.abspath(path), safe)
        return Salvage(safe)
    except OSError as e:  # a broken symlink, a directory with a file's name, no permission
        return Salvage(None, None, f"file cannot be read ({type(e).__name__})")


def upload_date(name: str) -> dt.date | None:
    parts = name.split("/")
    try:
        return dt.date.fromisoformat(parts[-2]) if len(parts) >= 2 else None
    except ValueError:
        return None


def file_size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


ENCODINGS = {"gb18030": "gb18030", "gbk": "gb18030", "gb2312": "gb18030", "utf-8": "utf-8", "utf8": "utf-8"}


def declared_encoding(path: Path) -> str | None:
    """The text after `# encoding:` when the first line is such a declaration (lower case), else
    None (UTF-8). The caller maps it through ENCODINGS; anything else is not read."""
    with open(path, "rb") as f:
        first = f.readline(200).strip().lstrip(b"\xef\xbb\xbf").lower()
    if first.startswith(b"#") and b"encoding" in first:
        return first.split(b":", 1)[-1].strip().decode("ascii", "replace")
    return None


def utf8_copy(path: Path, encoding: str, out: Path) -> Path:
    """Transcode a declared-encoding CSV to UTF-8 (DuckDB reads UTF-8 natively; its GB18030
    support is an extension this machine cannot download), streaming, line breaks untouched.
    A byte sequence that is not valid in `encoding` is written through unchanged (surrogateescape),
    so its line, and only its line, is not UTF-8 and is quarantined by the line reader."""
    with open(path, encoding=encoding, errors="surrogateescape", newline="") as src, \
            open(out, "w", encoding="utf-8", errors="surrogateescape", newline="") as dst:
        while piece := src.read(1 << 20):
            dst.write(piece)
    return out
