"""census_pipeline/lib/progress.py's StatusLine on a real pseudo-terminal: cut to the terminal's
width when it has one, whole when it reports none (0 columns: `script` from a pipe, a new
`docker -t`), and a count reported out of order by dbt's two threads never drawn backwards.
(tests/integration/test_progress_line.py checks the line of a whole run.)"""

from __future__ import annotations

import fcntl
import os
import struct
import termios

import pytest

from census_pipeline.lib import progress

CLEAR = "\r\x1b[K"


@pytest.fixture()
def pty_line():
    """`open(columns)`: a StatusLine on a new pseudo-terminal of `columns` (0: no size), and a
    function giving what the terminal was sent."""
    made = []

    def open_(columns: int):
        master, slave = os.openpty()
        attrs = termios.tcgetattr(slave)
        attrs[1] &= ~termios.OPOST  # bytes as sent (no NL -> CRNL)
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
        stream = os.fdopen(slave, "w", encoding="utf-8")
        line = progress.StatusLine(stream, tick_s=3600)  # drawn by what happens only
        made.append((line, stream, master))

        def sent() -> str:
            stream.flush()
            chunks = []
            os.set_blocking(master, False)
            while True:
                try:
                    chunk = os.read(master, 65536)
                except BlockingIOError:
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            return b"".join(chunks).decode("utf-8")
        return line, sent

    yield open_
    for line, stream, master in made:
        line.close()
        stream.close()
        os.close(master)


def drawn(text: str) -> list[str]:
    return [piece for piece in text.split(CLEAR)[1:] if piece and "\n" not in piece]


def test_cut_to_the_width_of_the_terminal(pty_line):
    line, sent = pty_line(40)
    line.start("census_microdata_models")
    progress.report(81, 159, "dbt models and tests")
    frames = drawn(sent())
    assert frames and all(len(f) <= 39 for f in frames)  # one column short: the cursor never wraps
    assert len(frames[-1]) == 39 and frames[-1].startswith("  census_microdata_models  [##########")


def test_whole_on_a_terminal_that_reports_no_size(pty_line):
    line, sent = pty_line(0)
    line.start("census_microdata_models")
    progress.report(81, 159, "dbt models and tests")
    assert drawn(sent())[-1] == "  census_microdata_models  [##########----------]  81 of 159 dbt models and tests  0:00"


def test_a_count_reported_out_of_order_is_not_drawn_backwards(pty_line):
    line, sent = pty_line(200)
    line.start("census_microdata_models")
    progress.report(159, 159, "dbt models and tests")
    progress.report(158, 159, "dbt models and tests")  # the other thread's, made before
    assert " 159 of 159 " in drawn(sent())[-1]
    line.start("census_bulletin_models")  # a new step starts from nothing
    progress.report(3, 52, "dbt models and tests")
    assert " 3 of 52 " in drawn(sent())[-1]


def test_a_failing_listener_never_reaches_the_reporter():
    def broken(done: int, total: int, unit: str) -> None:
        raise RuntimeError("a terminal gone wrong")

    progress._hooks.append(broken)
    try:
        progress.report(1, 2, "batch files")  # dbt's thread, ingestion's transaction: goes on
    finally:
        progress._hooks.remove(broken)
