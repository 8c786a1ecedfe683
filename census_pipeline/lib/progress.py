"""How far a long step is, on the terminal of `census run`.

At Hangzhou's size a run spends ~2 minutes reading the upload batches and ~5 in the microdata
build, each one step, and printed nothing meanwhile. On a terminal, `census run` now keeps one
line under its output for the step running: its name, a bar of what it has done of what it has
to do, and the time it has taken so far, redrawn every second:

      census_microdata_models  [##########----------]  81 of 159 dbt models and tests  2:14

What it has to do, by step:
- a step reporting its own progress here (`report`, in this process): what it reports. A dbt
  build run in the process reports dbt's nodes as dbt finishes them (defs/dbt_in_process.py),
  upload ingestion its batch files;
- any other step making ten or more assets and checks: those of this run, counted as their
  events arrive (Dagster's, as the instance stores them);
- a smaller step: only its time.
Only counts and step names are shown, never a value, and never wider than the terminal (a
wrapped line could not be redrawn in place). Elsewhere (a log file, a pipe, the scheduled run,
the UI) nothing of this is written.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable

_hooks: list[Callable[[int, int, str], None]] = []
_hooks_lock = threading.Lock()


def report(done: int, total: int, unit: str) -> None:
    """`done` of `total` `unit` of the step running in this process (nothing listening: nothing).
    Never raises: it is called from dbt's threads (where an exception leaves dbt waiting for ever)
    and inside ingestion's transactions, and a progress line must never stop a run."""
    with _hooks_lock:
        hooks = list(_hooks)
    for hook in hooks:
        with contextlib.suppress(Exception):
            hook(done, total, unit)


def put(stream, text: str) -> None:
    """`text` onto `stream` at once; a stream gone away (a closed terminal) is let be: the run goes on."""
    try:
        stream.write(text)
        stream.flush()
    except (OSError, ValueError):
        pass


def wanted(stream) -> bool:
    """A progress line for `stream`: a terminal that understands redrawing a line."""
    try:
        return bool(stream.isatty()) and os.environ.get("TERM") != "dumb"
    except (AttributeError, OSError, ValueError):  # (a closed stream)
        return False


WIDTH = 20  # characters of the bar
TICK_S = 1.0


def _clock(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m // 60}:{m % 60:02d}:{s:02d}" if m >= 60 else f"{m}:{s:02d}"


class StatusLine:
    """The line under a run's output on a terminal `stream` (see above). `write` prints a line
    above it; `start`, `advance` and `stop` follow the steps; `close` clears it for good."""

    def __init__(self, stream, tick_s: float = TICK_S):
        self.stream, self.tick_s = stream, tick_s
        self._lock = threading.Lock()
        self._step: str | None = None
        self._started = 0.0
        self._done, self._total, self._unit = 0, 0, ""
        self._own = False  # the step reports its own progress: its events are not counted
        self._shown = False
        self._closed = threading.Event()
        with _hooks_lock:
            _hooks.append(self._reported)
        self._ticker = threading.Thread(target=self._tick, name="census-status-line", daemon=True)
        self._ticker.start()

    def start(self, step: str, total: int = 0, unit: str = "") -> None:
        with self._lock:
            self._step, self._started = step, time.monotonic()
            self._done, self._total, self._unit, self._own = 0, total, unit, False
            self._draw()

    def advance(self, step: str, n: int = 1) -> None:
        with self._lock:
            if step == self._step and not self._own:
                self._done += n
                self._draw()

    def stop(self) -> None:
        with self._lock:
            self._step = None
            self._clear()

    def write(self, line: str) -> None:
        with self._lock:
            self._clear()
            put(self.stream, line + "\n")
            self._draw()

    def close(self) -> None:
        self._closed.set()
        with _hooks_lock:
            if self._reported in _hooks:
                _hooks.remove(self._reported)
        self.stop()

    def _reported(self, done: int, total: int, unit: str) -> None:
        with self._lock:
            if self._step is None:
                return
            if self._own and (total, unit) == (self._total, self._unit) and done < self._done:
                return  # two of dbt's threads reporting out of order: the count never goes back
            self._done, self._total, self._unit, self._own = done, total, unit, True
            self._draw()

    def _tick(self) -> None:
        while not self._closed.wait(self.tick_s):
            with self._lock:
                self._draw()

    def _draw(self) -> None:  # (under the lock)
        if self._step is None or self._closed.is_set():
            return
        parts = [f"  {self._step}"]
        if self._total > 0:
            filled = min(WIDTH, WIDTH * self._done // self._total)
            parts.append(f"[{'#' * filled}{'-' * (WIDTH - filled)}]  {self._done:,} of {self._total:,} {self._unit}")
        parts.append(_clock(time.monotonic() - self._started))
        line = "  ".join(parts)
        if width := self._width():  # (0: a terminal that does not know its size)
            line = line[:width - 1]  # a wrapped line would not be cleared: never wider than the terminal
        self._shown = True  # before it is sent: an interrupt meanwhile still gets it cleared
        put(self.stream, "\r\x1b[K" + line)

    def _width(self) -> int | None:
        try:
            return os.get_terminal_size(self.stream.fileno()).columns
        except (AttributeError, OSError, ValueError):  # not a real terminal (io.UnsupportedOperation too)
            return None

    def _clear(self) -> None:  # (under the lock)
        if self._shown:
            put(self.stream, "\r\x1b[K")
            self._shown = False
