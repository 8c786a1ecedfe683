"""Great Expectations 1.x suites, run inside DuckDB, as the census's quality gates.

The suites are JSON files under expectations/gx/expectations/, reviewed like code. Each run
builds an in-memory GX context, loads the suite from its JSON file and validates; the results
are then stripped of every value of a row (a sample of unexpected values could be a name or an
ID number) before anything is stored: the stripped results, the Data Docs and one page per suite
go under $CENSUS_OUTPUT_DIR/quality/, so a run never rewrites a committed file, and the pages
open with no network (data_docs.py). Validation is pushed down to DuckDB through SQLAlchemy
(duckdb-engine), on one read-only connection per suite that is closed when the suite is done,
so GX never holds the warehouse open between gates (docs/adr/0001). On CENSUS_ENGINE=spark, the
suites of the tables dbt builds run on GX's Spark execution engine instead, against Spark's own
tables in the run's Spark session (defs/spark_engine.py), with the same expectations, severities
and result handling; the raw zone's suite stays on DuckDB, where ingestion writes it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
from pathlib import Path
from urllib.parse import unquote, urlparse

import dagster as dg
from pydantic import PrivateAttr

from census_pipeline.lib.codes import PROJECT_ROOT
from census_pipeline.lib.warm_up import background
from census_pipeline.resources import data_docs

GX_DIR = PROJECT_ROOT / "expectations" / "gx"
SUITES_DIR = GX_DIR / "expectations"
SITE = "census"

# What a stored validation result keeps of each expectation's result: counts and rates only. The
# partial/complete unexpected lists, their counts, index lists and `details` (which holds whole
# unexpected rows for unexpected_rows_expectation) are dropped; observed_value only if a number.
KEPT_RESULT_KEYS = ("element_count", "missing_count", "missing_percent", "unexpected_count", "unexpected_percent",
                    "unexpected_percent_total", "unexpected_percent_nonmissing")


@dataclasses.dataclass
class ExpectationOutcome:
    rule: str
    description: str
    severity: str
    success: bool
    unexpected_count: int | None
    sample: list
    error: str | None
    column: str | None = None
    words: str = ""  # the expectation in plain words, from its type and arguments
    observed: str = ""  # what was found, as counts only


@dataclasses.dataclass
class GateResult:
    suite: str
    outcomes: list[ExpectationOutcome]
    report: str | None = None  # our page for this validation (reports/<suite>.html)
    data_docs_page: str | None = None  # GX's validation page
    validated_on: str = ""  # the engine the suite's metrics were computed on

    def failed(self, severity: str) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if o.severity == severity and not o.success]

    def evaluated(self, severity: str) -> int:
        return sum(o.severity == severity for o in self.outcomes)


def suite_expectation_count(suite: str) -> int:
    """How many expectations the suite's JSON file holds (GX drops an invalid one silently)."""
    return len(_suite_json(suite)["expectations"])


def _suite_json(suite: str) -> dict:
    return json.loads((SUITES_DIR / f"{suite}.json").read_text(encoding="utf-8"))


def _is_count(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def in_words(kind: str, kwargs: dict) -> str:
    """An expectation in plain words (the codes of a code list are the suite's, never a row's)."""
    column = kwargs.get("column")
    low, high = (f"{v:g}" if _is_count(v) else v for v in (kwargs.get("min_value"), kwargs.get("max_value")))
    if kind == "expect_column_values_to_not_be_null":
        words = f"{column} is never empty"
    elif kind == "expect_column_values_to_be_unique":
        words = f"no two rows share a {column}"
    elif kind == "expect_column_values_to_be_in_set":
        codes = [str(v) for v in kwargs.get("value_set") or []]
        words = f"{column} is one of {', '.join(codes[:12])}{' …' if len(codes) > 12 else ''}"
    elif kind == "expect_column_values_to_be_between":
        words = (f"{column} from {low} to {high}" if low is not None and high is not None
                 else f"{column} at least {low}" if low is not None else f"{column} at most {high}")
    elif kind == "unexpected_rows_expectation":
        words = "no row breaks the rule (a query lists the rows that would)"
    else:
        words = kind.removeprefix("expect_").replace("_", " ")
    if kwargs.get("mostly") is not None:
        words += f", in at least {float(kwargs['mostly']):.0%} of rows"
    return words


def observed(kind: str, result: dict) -> str:
    """What a validation found, as counts: never a value of a row."""
    if "unexpected_count" in result:
        seen = result.get("element_count")
        share = result.get("unexpected_percent")
        n = result["unexpected_count"]  # null on an empty table
        text = (f"{n:,} unexpected" if _is_count(n) else "no rows checked") + \
            (f" of {seen:,} rows" if _is_count(seen) else "")
        return text + (f" ({share:.2f}%)" if _is_count(share) and n else "")
    value = result.get("observed_value")
    if kind == "unexpected_rows_expectation" and _is_count(value):
        return f"{value:,} row(s) break the rule"
    if _is_count(value):
        return f"{value:,}"
    return "" if value is None else "(withheld: not a count)"


# What an engine's error message may quote of a row: a literal in single quotes (DuckDB's "Could
# not convert string '...' to INT32", Spark's CAST_INVALID_INPUT "The value '...' of the type ..."),
# a run of digits as long as an ID number's or a phone's, a Chinese character (a name, an address)
_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'")
_VALUE_SHAPED = re.compile(r"[0-9]{6,}|[\u3400-\u9fff\uf900-\ufaff]+")
ERROR_CHARS = 300


def without_values(message: str | None) -> str | None:
    """An engine's error message, its first line only, with every quoted literal, long digit run
    and Chinese character replaced by an ellipsis: what failed and why, never the value."""
    if not message or not message.strip():
        return message
    first = message.strip().splitlines()[0]
    text = _VALUE_SHAPED.sub("…", _QUOTED.sub("'…'", first))
    return text[:ERROR_CHARS] + ("…" if len(text) > ERROR_CHARS else "")


def _strip_exception(info: dict) -> None:
    """GX's exception_info, in place: the message without values, no traceback (its frames quote
    the SQL and the engine's message again)."""
    for part in [info, *(v for v in info.values() if isinstance(v, dict))]:
        if "exception_message" in part:
            part["exception_message"] = without_values(part["exception_message"])
        if "exception_traceback" in part:
            part["exception_traceback"] = None


def strip_values(validation) -> None:
    """Keep only counts and rates in each expectation's result, in place (see KEPT_RESULT_KEYS),
    and no value in an error's message."""
    for r in validation.results:
        result = r.result or {}
        kept = {k: result[k] for k in KEPT_RESULT_KEYS if k in result}
        if _is_count(result.get("observed_value")):
            kept["observed_value"] = result["observed_value"]
        r.result = kept
        if isinstance(getattr(r, "exception_info", None), dict):
            _strip_exception(r.exception_info)


def _outcome(r, key_column: str | None) -> ExpectationOutcome:
    cfg = r.expectation_config
    errors = [v.get("exception_message") for v in (r.exception_info or {}).values()
              if isinstance(v, dict) and v.get("raised_exception")]
    if r.exception_info and r.exception_info.get("raised_exception"):
        errors.append(r.exception_info.get("exception_message"))
    res = r.result or {}
    sample = res.get("partial_unexpected_index_list") or []
    if key_column:  # the key column alone: the index rows also hold the unexpected value itself
        sample = [row.get(key_column) if isinstance(row, dict) else row for row in sample]
    else:
        sample = []
    error = "; ".join(without_values(e) for e in errors if e) or None  # into the check's metadata: no value
    return ExpectationOutcome(
        rule=(cfg.meta or {}).get("rule", cfg.type), description=cfg.description or cfg.type,
        severity=(cfg.meta or {}).get("severity", "ERROR"), success=bool(r.success),
        unexpected_count=res.get("unexpected_count", res.get("observed_value") if not r.success else 0),
        sample=sample[:10], error=error, column=cfg.kwargs.get("column"), words=in_words(cfg.type, cfg.kwargs),
        observed=f"error: {error}" if error else observed(cfg.type, res))


def _close_connections(source) -> None:
    """Close the pooled warehouse connections of a GX SQL data source: its execution engine's and
    its own (both made by the validation; disposing an engine never opens a connection)."""
    source.get_execution_engine().engine.dispose()
    source.get_engine().dispose()


class GreatExpectations(dg.ConfigurableResource):
    """Runs a suite against a query over the warehouse and writes Data Docs."""

    warehouse_path: str
    output_dir: str
    _imported = PrivateAttr(default=None)
    _engine = PrivateAttr(default=None)  # EngineSettings, read when the run starts

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Import GX (and patch it) in the background when a run starts (3-4.7 s measured here, paid
        at the first gate otherwise): the ingestion steps before it wait on DuckDB, which leaves
        Python free."""
        import sqlalchemy.orm  # noqa: F401

        from census_pipeline.resources import gx_duckdb_patch

        # SQLAlchemy's ORM is imported here first: GX imports it in the thread while a step may
        # import it in this one (Dagster's storage), and two threads importing one package's
        # circular modules at once can get a partially initialized module ("cannot import name ...
        # partially initialized module 'sqlalchemy.orm.exc'", seen once under load)
        # on the run's warm-up thread, one import at a time; a gate waits for it (imported in two
        # threads at once, GX's modules can be found half initialized: seen on a small census)
        self._imported = background(gx_duckdb_patch.apply)
        from census_pipeline.lib.engine import engine_settings

        self._engine = engine_settings(os.environ, os.path.abspath(self.warehouse_path))

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._on_spark:  # a gate may have started the run's session (a run of gates alone)
            from census_pipeline.defs.spark_engine import stop

            stop()

    @property
    def _on_spark(self) -> bool:
        return self._engine is not None and self._engine.on_spark

    def _gx(self):
        """great_expectations, once the background import (if one was started) has finished. Had
        it failed, GX is imported here again, and fails here only if it is really broken."""
        if self._imported is not None:
            with contextlib.suppress(Exception):
                self._imported.result()
        import great_expectations as gx

        return gx

    @property
    def _quality(self) -> Path:
        return Path(self.output_dir) / "quality"

    def _context(self, keep_results: bool):
        """An ephemeral GX context. With keep_results, validation results are stored on disk (the
        Data Docs are built from them); without, they stay in memory, unstripped, until stripped."""
        gx = self._gx()
        from great_expectations.data_context.types.base import DataContextConfig, ProgressBarsConfig

        from census_pipeline.resources import gx_duckdb_patch

        gx_duckdb_patch.apply()
        fs, memory = "TupleFilesystemStoreBackend", {"class_name": "InMemoryStoreBackend"}
        results = {"class_name": fs, "base_directory": str(self._quality / "validations")} if keep_results else memory
        config = DataContextConfig(
            stores={
                "expectations_store": {"class_name": "ExpectationsStore", "store_backend": memory},
                "validation_results_store": {"class_name": "ValidationResultsStore", "store_backend": results},
                "checkpoint_store": {"class_name": "CheckpointStore", "store_backend": memory},
                "validation_definition_store": {"class_name": "ValidationDefinitionStore", "store_backend": memory},
            },
            expectations_store_name="expectations_store",
            validation_results_store_name="validation_results_store",
            checkpoint_store_name="checkpoint_store",
            data_docs_sites={SITE: {
                "class_name": "SiteBuilder", "show_how_to_buttons": False,
                "store_backend": {"class_name": fs, "base_directory": str(self._quality / "data_docs")},
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"}}},
            analytics_enabled=False,
            # GX draws a tqdm bar per validation on stderr: in a run's log, a line of carriage-return
            # redraws ("Calculating Metrics: 48%|████▊ ...") per gate
            progress_bars=ProgressBarsConfig(globally=False),
        )
        return gx.get_context(mode="ephemeral", project_config=config)

    def data_docs_index(self) -> str:
        return str(self._quality / "data_docs" / "index.html")

    def report_page(self, suite_name: str) -> str:
        return str(self._quality / "data_docs" / "reports" / f"{suite_name}.html")

    def validate(self, suite_name: str, query: str, key_column: str | None = None,
                 built_by_dbt: bool = False) -> GateResult:
        """Validate `query` (a select over the warehouse) against the suite; rows that fail are
        sampled by `key_column` only (a pseudonym or a household/submission id, never a name).
        `built_by_dbt`: the query reads tables the engine builds, so on Spark it runs there (the
        same table names: dbt-spark's databases are the warehouse's schemas)."""
        gx = self._gx()
        ctx = self._context(keep_results=False)
        if built_by_dbt and self._on_spark:
            batch, parameters, source, validated_on = self._spark_batch(ctx, suite_name, query)
        else:
            batch, parameters, source, validated_on = self._duckdb_batch(ctx, suite_name, query)
        suite = ctx.suites.add(gx.ExpectationSuite(**_suite_json(suite_name)))
        definition = ctx.validation_definitions.add(gx.ValidationDefinition(name=suite_name, data=batch, suite=suite))
        result_format = {"result_format": "SUMMARY", "partial_unexpected_count": 10}
        if key_column:
            result_format["unexpected_index_column_names"] = [key_column]
        checkpoint = ctx.checkpoints.add(gx.Checkpoint(
            name=f"{suite_name}_gate", validation_definitions=[definition], result_format=result_format))
        try:
            key, validation = next(iter(checkpoint.run(batch_parameters=parameters).run_results.items()))
        finally:
            if source is not None:
                _close_connections(source)
        outcomes = [_outcome(r, key_column) for r in validation.results]
        strip_values(validation)
        gx_page = self._publish(suite_name, key, validation, outcomes)
        return GateResult(suite=suite_name, outcomes=outcomes, report=self.report_page(suite_name),
                          data_docs_page=gx_page, validated_on=validated_on)

    def _duckdb_batch(self, ctx, suite_name: str, query: str):
        """The query as a GX SQL batch over the DuckDB warehouse."""
        from sqlalchemy.pool import StaticPool

        from census_pipeline.lib.duckdb_settings import duckdb_settings

        # one read-only connection for the suite's ~5-30 metric queries (opening the warehouse costs
        # ~40 ms each), closed before this returns: an open reader would block the next writer
        source = ctx.data_sources.add_sql(
            name="warehouse", connection_string=f"duckdb:///{self.warehouse_path}?access_mode=read_only",
            kwargs={"poolclass": StaticPool, "connect_args": {"config": duckdb_settings(self.warehouse_path)}},
            create_temp_table=False)
        batch = source.add_query_asset(name=suite_name, query=query).add_batch_definition_whole_table("all")
        return batch, None, source, "DuckDB (GX SQL execution engine, read-only connection)"

    def _spark_batch(self, ctx, suite_name: str, query: str):
        """The query as a Spark DataFrame of the run's session, a GX Spark batch. Not persisted: GX
        would cache the whole table in Spark's memory for the suite (slower here, 25 s against 19 s
        for the persons suite at 1 M persons, and memory a province does not have)."""
        from census_pipeline.defs import spark_engine

        spark = spark_engine.session(self._engine)
        source = ctx.data_sources.add_spark(name="spark", persist=False)
        batch = source.add_dataframe_asset(name=suite_name).add_batch_definition_whole_dataframe("all")
        return batch, {"dataframe": spark.sql(query)}, None, f"{self._engine.spark_where} (GX Spark execution engine)"

    def _publish(self, suite_name: str, key, validation, outcomes: list[ExpectationOutcome]) -> str | None:
        """Store the stripped result, build its GX pages, make the site offline, write our pages."""
        gx = self._gx()
        from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

        docs = self._context(keep_results=True)
        suites = sorted(p.stem for p in SUITES_DIR.glob("*.json"))
        for name in suites:  # GX deletes the page of any suite missing from its store
            docs.suites.add(gx.ExpectationSuite(**_suite_json(name)))
        site = self._quality / "data_docs"
        with data_docs.site_lock(site):
            docs.validation_results_store.set(key, validation)
            docs.build_data_docs(site_names=[SITE],
                                 resource_identifiers=[key, ExpectationSuiteIdentifier(name=suite_name)])
            urls = docs.get_docs_sites_urls(resource_identifier=key, site_names=[SITE])
            gx_page = unquote(urlparse(urls[0]["site_url"]).path) if urls and urls[0].get("site_url") else None
            data_docs.make_site_offline(site)
            relative = Path(gx_page).relative_to(site).as_posix() if gx_page else None
            data_docs.write_atomically(site / "reports" / f"{suite_name}.html", data_docs.suite_report(
                suite_name, outcomes, validation.meta["run_id"].run_time.isoformat(timespec="seconds"),
                f"../{relative}" if relative else None))
            data_docs.write_atomically(site / "index.html",
                                       data_docs.site_index(self._quality / "validations", suites))
        return gx_page
