"""The Dagster instance's event log, kept open between events.

Dagster's SQLite event log opens a new SQLAlchemy engine and SQLite connection for every event it
stores (and a second one for an asset or check event, mirrored in the index database), then
closes it: ~10 ms an event on this machine against ~2 ms with the connection kept, and a census
run stores ~800 events (dbt's models and tests each give some), all in the run's own thread. And
each of its ~2,600 commits waited for the disk (SQLite's `synchronous = full`). This storage is
Dagster's own but for those two things: one engine per database file, kept for the life of the
instance, used under the storage's own lock exactly as before (every use is still one
transaction), and commits that are durable through a crash or kill of the process but not a
power cut (`synchronous = normal` in WAL mode, which Dagster's databases use). Files, layout and
schema are unchanged, so the UI and every Dagster tool read the same history;
`ensure_instance_config` names it in a new DAGSTER_HOME's dagster.yaml.
"""

import contextlib
from collections import OrderedDict
from collections.abc import Iterator

from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool

EVENT_LOG_STORAGE = f"""
# Dagster's SQLite event log with its database connections kept open between events
# (census_pipeline/instance.py): same files and layout as the default, ~5 times faster to write.
event_log_storage:
  module: {__name__}
  class: KeptOpenSqliteEventLogStorage
  config:
    base_dir: {{base_dir}}
"""


KEPT_OPEN = 8  # databases kept open at once: the index and the runs in use (the UI reads many runs)


def _synchronous_normal(dbapi_connection, _record) -> None:
    """Commits wait for the disk only at checkpoints: in WAL mode (Dagster's), SQLite's NORMAL
    keeps every committed event through a crash or a kill of the process, and may lose the last
    ones only if the machine itself loses power; FULL waited for the disk at each of a run's
    ~2,600 commits, at what the host's fsync costs (timed: 6.4 ms a commit on one machine here,
    0.30 ms on another, against 0.03-0.04 ms with NORMAL)."""
    dbapi_connection.execute("pragma synchronous = normal")


class KeptOpenSqliteEventLogStorage(SqliteEventLogStorage):
    """SqliteEventLogStorage with one engine (and SQLite connection) per shard, kept open for the
    KEPT_OPEN shards used last (a UI reading a year of nightly runs must not hold hundreds of files)."""

    def __init__(self, base_dir: str, inst_data=None):
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        super().__init__(base_dir, inst_data)

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        return cls(inst_data=inst_data, **config_value)

    @contextlib.contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            engine = self._engines.get(shard)
            if engine is None:
                # one connection, used by whichever thread holds the lock (the lock is why the
                # connection may cross threads)
                engine = create_engine(self.conn_string_for_shard(shard), poolclass=StaticPool,
                                       connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS,
                                                     "check_same_thread": False})
                event.listen(engine, "connect", _synchronous_normal)
                self._engines[shard] = engine
                while len(self._engines) > KEPT_OPEN:
                    self._engines.popitem(last=False)[1].dispose()  # the one used longest ago
            self._engines.move_to_end(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def _close_engines(self) -> None:
        with self._db_lock:
            engines, self._engines = self._engines, OrderedDict()
        for engine in engines.values():
            engine.dispose()

    def wipe(self) -> None:
        self._close_engines()  # the run databases are deleted
        super().wipe()

    def dispose(self) -> None:
        self._close_engines()
        super().dispose()
