"""Steps that read the landing zone or write the published files retry on a transient I/O error.

A census office keeps its landing zone and its output folder on shared storage (NFS, SMB): a
file server restarting or a network blip at 02:00 fails a read with EIO, ESTALE or a timeout, and a
nightly run left alone would fail for nothing. Those steps are safe to repeat (ingestion commits
chunk by chunk and reads only what the ledger lacks; publication is staged, then swapped in), so on
such an error the step is retried (twice, 15 s then 30 s later). Nothing else is retried: a
warehouse locked by another process, a bad census, a failed gate or a bug fail at once, with their
cause (docs/adr/0001: runs never paper over DuckDB's lock with retries)."""

from __future__ import annotations

import errno
import functools
import inspect

import dagster as dg

TRANSIENT_ERRNOS = frozenset({errno.EIO, errno.ESTALE, errno.ETIMEDOUT, errno.EAGAIN, errno.EBUSY, errno.EINTR,
                              errno.ECONNRESET, errno.ECONNABORTED, errno.ECONNREFUSED, errno.EHOSTUNREACH,
                              errno.ENETUNREACH, errno.ENETDOWN, errno.ENETRESET})
MAX_RETRIES = 2
FIRST_WAIT_S = 15


def is_transient(error: BaseException) -> bool:
    """An I/O error that the same operation a little later may not meet again."""
    return isinstance(error, ConnectionError | TimeoutError) or (
        isinstance(error, OSError) and error.errno in TRANSIENT_ERRNOS)


def retried_on_transient_io(fn):
    """Wrap an asset's compute function (plain or generator): a transient I/O error becomes a
    Dagster retry request; every other error passes unchanged."""

    def request(context) -> dg.RetryRequested:
        attempt = getattr(context, "retry_number", 0) if context is not None else 0
        return dg.RetryRequested(max_retries=MAX_RETRIES, seconds_to_wait=FIRST_WAIT_S * 2 ** attempt)

    def context_of(args, kwargs):
        return kwargs.get("context") or next((a for a in args if isinstance(a, dg.AssetExecutionContext)), None)

    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def generator(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except OSError as e:
                if is_transient(e):
                    raise request(context_of(args, kwargs)) from e
                raise
        return generator

    @functools.wraps(fn)
    def plain(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except OSError as e:
            if is_transient(e):
                raise request(context_of(args, kwargs)) from e
            raise
    return plain
