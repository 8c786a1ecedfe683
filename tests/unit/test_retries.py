"""Transient I/O errors (a file server's hiccup) retry the step; every other error fails it at once.
Real Dagster runs of small assets wrapped as the ingestion and publication assets are."""

import errno

import dagster as dg
import duckdb
import pytest

from census_pipeline.defs import retries
from census_pipeline.defs.ingestion.assets import upload_batches
from census_pipeline.defs.publication.assets import published_files
from census_pipeline.defs.retries import is_transient, retried_on_transient_io


@pytest.fixture(autouse=True)
def _no_waiting(monkeypatch):
    monkeypatch.setattr(retries, "FIRST_WAIT_S", 0)


def _flaky(tmp_path, error_no: int, failures: int, generator: bool):
    attempts = tmp_path / "attempts"

    def attempt() -> int:
        n = int(attempts.read_text()) + 1 if attempts.exists() else 1
        attempts.write_text(str(n))
        if n <= failures:
            raise OSError(error_no, "simulated by the file system", str(tmp_path / "landing"))
        return n

    if generator:
        @dg.multi_asset(specs=[dg.AssetSpec("a"), dg.AssetSpec("b")])
        @retried_on_transient_io
        def flaky(context: dg.AssetExecutionContext):
            n = attempt()
            yield dg.MaterializeResult(asset_key="a", metadata={"attempt": n})
            yield dg.MaterializeResult(asset_key="b", metadata={"attempt": n})
    else:
        @dg.asset
        @retried_on_transient_io
        def flaky(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
            return dg.MaterializeResult(metadata={"attempt": attempt()})
    return flaky


@pytest.mark.parametrize("generator", [False, True])
def test_a_transient_io_error_is_retried_and_the_step_succeeds(tmp_path, generator):
    result = dg.materialize([_flaky(tmp_path, errno.EIO, 2, generator)], raise_on_error=False)
    assert result.success
    assert [e.event_type_value for e in result.all_events].count("STEP_UP_FOR_RETRY") == 2
    assert result.get_asset_materialization_events()[0].materialization.metadata["attempt"].value == 3


def test_retries_are_bounded(tmp_path):
    result = dg.materialize([_flaky(tmp_path, errno.ESTALE, 5, False)], raise_on_error=False)
    assert not result.success
    assert (tmp_path / "attempts").read_text() == str(1 + retries.MAX_RETRIES)


def test_a_lasting_error_fails_at_once(tmp_path):
    result = dg.materialize([_flaky(tmp_path, errno.ENOENT, 1, False)], raise_on_error=False)
    assert not result.success
    assert (tmp_path / "attempts").read_text() == "1"
    assert "STEP_UP_FOR_RETRY" not in [e.event_type_value for e in result.all_events]


def test_what_counts_as_transient():
    assert is_transient(OSError(errno.EIO, "io")) and is_transient(TimeoutError()) and is_transient(ConnectionResetError())
    assert not is_transient(FileNotFoundError(errno.ENOENT, "gone")) and not is_transient(PermissionError(errno.EACCES, "no"))
    assert not is_transient(OSError(errno.ENOSPC, "disk full"))  # needs a person, not a retry
    # another process holding the warehouse: DuckDB's own error, never retried (docs/adr/0001)
    assert not is_transient(duckdb.IOException("Could not set lock on file"))


def test_the_steps_on_shared_storage_are_wrapped():
    for asset in (upload_batches, published_files):
        assert asset.op.compute_fn.decorated_fn.__wrapped__ is not None
