"""Work a run does ahead, in the background, while its first steps wait on DuckDB: importing Great
Expectations (3-4.7 s here) and dbt (~1.5 s), and parsing the dbt project (~1 s).

One thread, one job at a time: two threads importing one package's modules at once can find a
module half initialized ("cannot import name ... partially initialized module", seen once under
load with SQLAlchemy, which both packages import). A daemon thread: a process never waits at its
exit for work it did not need."""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future

_jobs: queue.SimpleQueue = queue.SimpleQueue()
_lock = threading.Lock()
_worker: threading.Thread | None = None


def _work() -> None:
    while True:
        future, fn, args = _jobs.get()
        if future.set_running_or_notify_cancel():
            try:
                future.set_result(fn(*args))
            except BaseException as e:  # noqa: BLE001 - handed to whoever waits on the future
                future.set_exception(e)
        del future, fn, args  # an idle thread holds nothing (it is alive when the process exits)


def background(fn, *args) -> Future:
    """`fn(*args)` on the warm-up thread, after the jobs submitted before it."""
    global _worker
    future: Future = Future()
    _jobs.put((future, fn, args))
    with _lock:
        if _worker is None:
            _worker = threading.Thread(target=_work, name="census-warm-up", daemon=True)
            _worker.start()
    return future
