"""The dbt project shared by the stages: the project and its manifest, the translator that names
dbt's models as census assets, and the one way a stage runs `dbt build`.

Each stage's models live in a folder of their own (dbt_project/models/<layer>/<stage>/) and get
their Dagster group from that folder's `+meta: {dagster: {group: ...}}` in dbt_project.yml. The
models still run in two `dbt build`s per run, not one per stage: the microdata gates (Great
Expectations) sit between the microdata and the bulletin, and every dbt invocation has a fixed
cost (~0.7 s of start and end in the run's process, defs/dbt_in_process.py; 4-6 s as a process
of its own), so
staging, microdata, linkage and the coverage survey build together (defs/microdata/assets.py) and
the bulletin after the gates (defs/publication/bulletin_models.py).
While dbt runs it holds the warehouse's write lock, so the metadata read from the warehouse (row
counts, column schemas, column lineage, each stage's figures) is added once the build has finished.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject
from packaging import version
from pydantic import Field, PrivateAttr

from census_pipeline.defs.metadata import table_metadata
from census_pipeline.lib.codes import DEFAULT_LOCATIONS, PROJECT_ROOT
from census_pipeline.lib.engine import EngineSettings
from census_pipeline.lib.lineage import cached_column_lineage, read_cache, sql_hazards, write_cache
from census_pipeline.resources import Warehouse

DBT_DIR = PROJECT_ROOT / "dbt_project"
dbt_project = DbtProject(project_dir=DBT_DIR, profiles_dir=DBT_DIR)


def dbt_executable() -> str:
    """The dbt beside this interpreter (dagster-dbt needs it; the venv may not be on PATH)."""
    candidate = Path(sys.executable).with_name("dbt")
    return str(candidate) if candidate.exists() else "dbt"


def _newest_source_mtime() -> float:
    newest = 0.0
    for sub in ("models", "macros", "seeds", "tests"):
        for p in (DBT_DIR / sub).rglob("*"):
            if p.is_file():
                newest = max(newest, p.stat().st_mtime)
    for name in ("dbt_project.yml", "profiles.yml", "packages.yml"):
        p = DBT_DIR / name
        if p.exists():
            newest = max(newest, p.stat().st_mtime)
    return newest


def prepare_manifest(force: bool = False) -> Path:
    """`dbt parse` when the manifest is missing or older than the project's files: a full parse
    (~5 s), never a partial one, so the manifest every process reads is what the files say."""
    manifest = dbt_project.manifest_path
    if force or not manifest.exists() or manifest.stat().st_mtime < _newest_source_mtime():
        env = dict(os.environ)
        env.setdefault("CENSUS_WAREHOUSE", str(DEFAULT_LOCATIONS["CENSUS_WAREHOUSE"]))
        subprocess.run([dbt_executable(), "parse", "--quiet", "--no-partial-parse", "--project-dir", str(DBT_DIR),
                        "--profiles-dir", str(DBT_DIR)], check=True, env=env, cwd=DBT_DIR)
    return manifest


class CensusDbtCliResource(DbtCliResource):
    """dagster-dbt's resource without two start-up costs it pays in this process before dbt runs:

    - `dbt --version` in a subprocess (a dbt import, ~2 s here) to learn which dbt it runs: the
      dbt beside this interpreter is the dbt-core package installed with it, so its version is read
      from the package (any other executable still gets asked);
    - a dbt adapter opened in this process (all macros parsed, ~0.7 s per build): dagster-dbt needs
      it only for `fetch_row_counts()` / `fetch_column_metadata()`, which this project never calls
      (they open a second connection to the DuckDB file while dbt holds it; `build` reads row
      counts and schemas once dbt has finished)."""

    in_process: bool = Field(default=True, description=(
        "Run dbt inside the run's process (defs/dbt_in_process.py): dbt imported and the project parsed "
        "once per run, in the background, instead of a new dbt process per build (~4 s each here)."))

    _engine: EngineSettings | None = PrivateAttr(default=None)

    @property
    def engine(self) -> EngineSettings | None:
        """The engine this run builds on (CENSUS_ENGINE, read when the run starts); None before."""
        return self._engine

    @property
    def dbt_target(self) -> str | None:
        """The profile's target the engine asks for: `spark`, or None (the default, the DuckDB warehouse)."""
        return "spark" if self._engine is not None and self._engine.on_spark else None

    @staticmethod
    def _warehouse() -> str | None:
        """The warehouse dbt's profile names (CENSUS_WAREHOUSE), absolute as the Warehouse resource
        reads it."""
        path = os.environ.get("CENSUS_WAREHOUSE")
        return os.path.abspath(path) if path else None

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        super().setup_for_execution(context)
        warehouse = self._warehouse()
        if warehouse:
            from census_pipeline.lib.engine import engine_settings

            self._engine = engine_settings(os.environ, warehouse)  # when the run starts, never at import
        if self.dbt_target == "spark" and not self.in_process:
            raise dg.Failure("CENSUS_ENGINE=spark runs dbt in the run's process (dbt-spark's session mode uses "
                             "the run's Spark session): in_process must stay true")
        if self.in_process and warehouse:
            from census_pipeline.defs.dbt_in_process import warm_up

            warm_up(Path(self.project_dir), self.profiles_dir or self.project_dir, warehouse, self.dbt_target)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self.dbt_target == "spark":
            from census_pipeline.defs.spark_engine import stop

            stop()

    def cli(self, args, **kwargs):
        if self.dbt_target == "spark":
            args = [*args, "--target", "spark"]
        if not self.in_process:
            return super().cli(args, **kwargs)
        from census_pipeline.defs.dbt_in_process import invocations_in_process

        with invocations_in_process(self._warehouse(), self.dbt_target):
            return super().cli(args, **kwargs)

    @cached_property
    def _cli_version(self) -> version.Version:
        if Path(self.dbt_executable).parent == Path(sys.executable).parent:
            from importlib.metadata import version as installed

            return version.parse(installed("dbt-core"))
        return super()._cli_version

    def _initialize_dbt_core_adapter(self, args):
        return None


PARTIAL_PARSE = DBT_DIR / "target" / "partial_parse"  # dbt's parse state, one file per warehouse


def _partial_parse_file(warehouse_path: str, target: str | None = None) -> Path:
    """dbt re-parses the whole project (~3-5 s) when the profile differs from the one its saved
    parse state was made with, and the profile holds the warehouse's path and the target: one state
    per warehouse and target (None: the profile's default, DuckDB), so a run never re-parses for want
    of the right one (the parse of `census prepare` is made with the default warehouse; tests and
    benchmarks use others)."""
    name = str(Path(warehouse_path).absolute()) + (f"|{target}" if target else "")  # a target: a profile of its own
    key = hashlib.sha256(name.encode()).hexdigest()[:16]
    return PARTIAL_PARSE / f"{key}.msgpack"


KEEP_PARSE_STATES = 10  # warehouses whose parse state is kept (~1.5 MB each)


def prune_parse_states(folder: Path = PARTIAL_PARSE, keep: int = KEEP_PARSE_STATES, older_than_s: float = 3600,
                       now: float | None = None) -> int:
    """Every warehouse a build ran on leaves a parse state (a test suite: ~30); keep the `keep`
    last used (a build touches the state it reads) and any used within `older_than_s`. Returns
    how many went."""
    now = time.time() if now is None else now
    states = sorted(((p.stat().st_mtime, p) for p in folder.glob("*.msgpack")), reverse=True)
    removed = 0
    for mtime, p in states[keep:]:
        if now - mtime > older_than_s:
            p.unlink(missing_ok=True)
            removed += 1
    return removed


@contextlib.contextmanager
def parse_state(target_path: Path, warehouse_path: str, target: str | None = None):
    """Around a build in `target_path`: the warehouse's parse state copied in (dagster-dbt then
    copies none of its own), and the build's copied back once it is done (replaced whole: a reader
    never sees half a file). dbt checks a state before using it (project files, vars, profile,
    versions), so a stale one only costs a full parse."""
    state = _partial_parse_file(warehouse_path, target)
    if state.exists():
        target_path.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(state, target_path / "partial_parse.msgpack")
        os.utime(state)  # in use: the last to be pruned
    yield
    made = target_path / "partial_parse.msgpack"
    if made.exists():
        state.parent.mkdir(parents=True, exist_ok=True)
        tmp = state.with_suffix(f".{os.getpid()}.tmp")
        shutil.copyfile(made, tmp)
        os.replace(tmp, state)


def invocation_folder(op_name: str, run_id: str) -> Path:
    """A new folder for one dbt invocation's artifacts, named as dagster-dbt names them:
    <asset>-<first 7 characters of the run id>-<random> (prune_invocation_folders and
    invocation_folders read the name)."""
    return DBT_DIR / "target" / f"{op_name}-{run_id[:7]}-{uuid.uuid4().hex[:7]}"


def invocation_folders(run_id: str) -> list[Path]:
    """The folders of every dbt invocation of a run (its builds, a retry), oldest name first."""
    return sorted(p for p in (DBT_DIR / "target").glob(f"*-{run_id[:7]}-*") if p.is_dir())


KEEP_INVOCATION_FOLDERS = 10  # dbt's artifacts of the last builds, for whoever debugs a run
PRUNE_AFTER_S = 3600  # never a folder a build (another test worker, say) may still be writing


def prune_invocation_folders(target: Path, keep: int = KEEP_INVOCATION_FOLDERS, older_than_s: float = PRUNE_AFTER_S,
                             now: float | None = None) -> int:
    """dagster-dbt gives every dbt invocation a folder of its own under dbt_project/target
    (<asset>-<run>-<hash>: a manifest, run results, compiled SQL, ~7 MB); nothing removes them, so
    a nightly run grows the project by ~5 GB a year. Keep the newest `keep` of each asset's
    folders, and any younger than `older_than_s`; remove the rest. Returns how many went."""
    now = time.time() if now is None else now
    folders: dict[str, list[tuple[float, Path]]] = {}
    for p in target.glob("*-*-*"):
        if p.is_dir() and (p / "manifest.json").exists():
            folders.setdefault(p.name.split("-")[0], []).append((p.stat().st_mtime, p))
    removed = 0
    for entries in folders.values():
        for mtime, p in sorted(entries, reverse=True)[keep:]:
            if now - mtime > older_than_s:
                shutil.rmtree(p, ignore_errors=True)
                removed += 1
    return removed


RESTRICTED_SCHEMAS = {"raw", "staging", "intermediate", "linkage_audit"}  # names, ID numbers or person_no


class CensusTranslator(DagsterDbtTranslator):
    """Asset keys follow the warehouse: [schema, table]; groups are census stages."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return super().get_asset_key(dbt_resource_props)
        schema = dbt_resource_props.get("config", {}).get("schema") or dbt_resource_props["schema"]
        return dg.AssetKey([schema, dbt_resource_props.get("alias") or dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        """The stage named by the model's folder in dbt_project.yml (`+meta: {dagster: {group: ...}}`)."""
        group = super().get_group_name(dbt_resource_props)
        if group is None and dbt_resource_props["resource_type"] in ("model", "seed", "snapshot"):
            raise ValueError(f"{dbt_resource_props['unique_id']} has no Dagster group: give its folder one in "
                             "dbt_project.yml (+meta: {dagster: {group: ...}})")
        return group

    def get_owners(self, dbt_resource_props: Mapping[str, Any]):
        return ["team:census-data"]

    def get_tags(self, dbt_resource_props: Mapping[str, Any]) -> Mapping[str, str]:
        schema = dbt_resource_props.get("config", {}).get("schema")
        zone = "restricted" if schema in RESTRICTED_SCHEMAS else "analysis"
        return {**super().get_tags(dbt_resource_props), "zone": zone}


TRANSLATOR = CensusTranslator(settings=DagsterDbtTranslatorSettings(enable_code_references=False))
# the second build's selection (the bulletin and what only it reads); the first builds the rest
BULLETIN_BUILD = "path:models/marts/bulletin path:models/intermediate/publication"


def _relations(manifest: Mapping[str, Any], con, elsewhere: Mapping[tuple[str, str], list] | None = None
               ) -> tuple[dict, dict]:
    """Every table and view dbt knows, by (schema, name): its asset key and its columns in the
    warehouse (one catalog query, once dbt has finished: no second connection while it runs), or
    in `elsewhere` ((schema, name) -> [(column, type)]: the views only Spark holds)."""
    keys = {}
    for props in [*manifest["nodes"].values(), *manifest["sources"].values()]:
        if props["resource_type"] in ("model", "seed", "snapshot", "source"):
            name = props.get("alias") or props.get("identifier") or props["name"]
            keys[(props["schema"].lower(), name.lower())] = TRANSLATOR.get_asset_key(props)
    columns: dict[tuple[str, str], list[str]] = {}
    for schema, table, column in con.execute(
            "select table_schema, table_name, column_name from information_schema.columns "
            "where table_catalog = current_database() order by table_schema, table_name, ordinal_position"
    ).fetchall():
        if (schema.lower(), table.lower()) in keys:
            columns.setdefault((schema.lower(), table.lower()), []).append(column)
    for relation, cols in (elsewhere or {}).items():
        if relation in keys:
            columns.setdefault(relation, [c for c, _ in cols])
    return keys, columns


LINEAGE_CACHE = DBT_DIR / "target" / "column_lineage_cache.json"  # beside dbt's artifacts, gitignored


def model_sql_metadata(context: dg.AssetExecutionContext, invocation, held: list[dg.Output], con,
                       secret: str, dialect: str = "duckdb",
                       elsewhere: Mapping[tuple[str, str], list] | None = None) -> dict[str, dict]:
    """By output name: `dagster/column_lineage` (from the compiled SQL: census_pipeline/lib/lineage.py)
    and `compiled_sql`, the SQL dbt ran, for each SQL model this build wrote. Column names and SQL
    only, never data values; SQL holding a secret or an ID-number-like literal is withheld.

    Not dagster-dbt's `fetch_column_metadata()`: it opens an adapter connection per model from this
    process while dbt still runs, and DuckDB lets one process write (or, with a writer, none read)."""
    started = time.perf_counter()
    compiled = {r["unique_id"]: r.get("compiled_code")
                for r in invocation.get_artifact("run_results.json")["results"]}
    keys, columns = _relations(invocation.manifest, con, elsewhere)
    cache = read_cache(LINEAGE_CACHE)
    cached = len(cache)
    out, n_columns, n_resolved = {}, 0, 0
    for event in held:
        uid = getattr(event.metadata.get("unique_id"), "text", None)
        node, code = invocation.manifest["nodes"].get(uid, {}), compiled.get(uid)
        if node.get("resource_type") != "model" or node.get("language") != "sql" or not code:
            continue  # seeds read no table; Python models are not SQL: neither gets lineage
        own = columns.get((node["schema"].lower(), (node.get("alias") or node["name"]).lower()), [])
        found = cached_column_lineage(code, columns, own, cache, dialect)
        if found.reason:
            context.log.warning(f"No column lineage for {node['name']}: {found.reason}")
        n_columns, n_resolved = n_columns + len(own), n_resolved + len(found.deps)
        hazards = sql_hazards(code, [secret])
        out[event.output_name] = {
            "dagster/column_lineage": dg.TableColumnLineage(deps_by_column={
                column: [dg.TableColumnDep(asset_key=keys[(s, t)], column_name=c) for s, t, c in deps]
                for column, deps in found.deps.items()}),
            "compiled_sql": dg.MetadataValue.text(f"withheld: {'; '.join(hazards)}") if hazards
            else dg.MetadataValue.md(f"```sql\n{code.strip()}\n```"),
        }
    if len(cache) != cached:
        write_cache(LINEAGE_CACHE, cache)
    context.log.info(f"Column lineage of {len(out)} dbt models ({len(cache) - cached} parsed, the rest cached): "
                     f"{n_resolved} of {n_columns} columns traced, in {time.perf_counter() - started:.2f} s")
    return out


StageMetadata = Mapping[tuple[str, ...], Callable[[Any], dict]]  # asset key path -> figures read once built


def build(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: Warehouse, secret: str,
          stage_metadata: StageMetadata | None = None):
    """`dbt build` of this asset's selection, streaming its events; every model's output gets, once
    dbt is done, its row count, column schema, column lineage and compiled SQL, and the figures of
    `stage_metadata` for the assets named there. `secret` is only used to keep it out of metadata."""
    stage_metadata = stage_metadata or {}
    target_path = invocation_folder(context.op.name, context.run.run_id)
    held = []
    target = getattr(dbt, "dbt_target", None)  # None: DuckDB, the profile's default
    on_spark = target == "spark"
    specs = context.assets_def.specs_by_key
    unique_ids = {tuple(p.lower() for p in k.path): str(specs[k].metadata.get("dagster_dbt/unique_id", ""))
                  for k in context.selected_asset_keys}
    if on_spark:
        from census_pipeline.defs import spark_engine

        relations = {r for r, u in unique_ids.items() if u.startswith(("seed.", "model."))}
        spark_engine.before_build(warehouse.path, dbt.engine, context.run.run_id, relations, context.log)
    else:  # the code lists an earlier Spark run left as views over its tables: this build seeds them
        from census_pipeline.defs.ingestion.ingest import atomic
        from census_pipeline.spark_dbt import detach_spark_tables

        seeds = {r for r, u in unique_ids.items() if u.startswith("seed.")}
        dropped = []
        if seeds:  # (the bulletin's build seeds nothing: no connection for it)
            with warehouse.connect() as con, atomic(con):
                dropped = detach_spark_tables(con, seeds)
        if dropped:
            context.log.info(f"{len(dropped)} views over an earlier Spark run's code lists dropped: this build "
                             "seeds them in DuckDB")
    with parse_state(target_path, warehouse.path, target):
        # the dbt unit tests (rules on hand-written rows) test the SQL, not this census: they run in
        # the test suite (tests/integration/test_dbt_unit_tests.py), not in every census run
        invocation = dbt.cli(["build", "--exclude-resource-type", "unit_test"], context=context, raise_on_error=False,
                             target_path=target_path)
        for event in invocation.stream():
            if isinstance(event, dg.Output):
                held.append(event)  # metadata is added below, once dbt has let go of the warehouse
            else:
                yield event
    spark_only: dict[tuple[str, str], list] = {}  # Spark's views: not readable in the warehouse
    if on_spark:  # Spark's tables, readable in the warehouse for the gates, the figures and the publication
        built = spark_engine.built_tables(invocation.get_artifact("run_results.json"), invocation.manifest)
        with warehouse.connect() as con:
            views = spark_engine.after_build(con, dbt.engine, built)
        spark_only = spark_engine.view_columns()
        context.log.info(f"{len(views)} tables built on Spark, readable in the warehouse as views")
    with warehouse.connect(read_only=True) as con:
        try:
            models = model_sql_metadata(context, invocation, held, con, secret, target or "duckdb",
                                        spark_only) if held else {}
        except Exception as e:  # a reader's aid: never lose the build's outputs over it
            context.log.warning(f"No column lineage or compiled SQL this run: {type(e).__name__}: {e}")
            models = {}
        for event in held:
            key = context.asset_key_for_output(event.output_name)
            table = ".".join(key.path)
            spec = context.assets_def.specs_by_key[key]
            relation = tuple(p.lower() for p in key.path)
            if relation in spark_only:  # a view of Spark's: its columns from Spark, no row count (it is a query)
                extra = {"dagster/column_schema": dg.TableSchema(columns=[
                    dg.TableColumn(name=c, type=t) for c, t in spark_only[relation]])}
            else:
                extra = table_metadata(con, table, spec.metadata.get("dagster/column_schema"))
            extra.update(models.get(event.output_name, {}))
            if tuple(key.path) in stage_metadata:
                extra.update(stage_metadata[tuple(key.path)](con))
            yield event.with_metadata({**event.metadata, **extra})
    removed = prune_invocation_folders(DBT_DIR / "target")
    prune_parse_states()
    if removed:
        context.log.info(f"removed {removed} old dbt invocation folders from {DBT_DIR / 'target'}")
    if not invocation.is_successful():
        raise dg.Failure("dbt build failed: see the dbt log above for the failing model or test")


