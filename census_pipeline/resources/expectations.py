"""Great Expectations 1.x suites, run inside DuckDB, as the census's quality gates.

The suites are JSON files under expectations/gx/expectations/, reviewed like code. Each run
builds an in-memory GX context, loads the suite from its JSON file, and writes validation
results and Data Docs under $CENSUS_OUTPUT_DIR/quality/, so a run never rewrites a committed
file. Validation is pushed down to DuckDB through SQLAlchemy
(duckdb-engine), on a read-only, non-pooled connection that is closed after each query, so
GX never holds the warehouse open (docs/adr/0001).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import dagster as dg

from census_pipeline.lib.codes import PROJECT_ROOT

GX_DIR = PROJECT_ROOT / "expectations" / "gx"
SUITES_DIR = GX_DIR / "expectations"


@dataclasses.dataclass
class ExpectationOutcome:
    rule: str
    description: str
    severity: str
    success: bool
    unexpected_count: int | None
    sample: list
    error: str | None


@dataclasses.dataclass
class GateResult:
    suite: str
    outcomes: list[ExpectationOutcome]

    def failed(self, severity: str) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if o.severity == severity and not o.success]

    def evaluated(self, severity: str) -> int:
        return sum(o.severity == severity for o in self.outcomes)


def suite_expectation_count(suite: str) -> int:
    """How many expectations the suite's JSON file holds (GX drops an invalid one silently)."""
    return len(json.loads((SUITES_DIR / f"{suite}.json").read_text(encoding="utf-8"))["expectations"])


class GreatExpectations(dg.ConfigurableResource):
    """Runs a suite against a query over the warehouse and writes Data Docs."""

    warehouse_path: str
    output_dir: str

    def _context(self):
        import great_expectations as gx
        from great_expectations.data_context.types.base import DataContextConfig

        from census_pipeline.resources import gx_duckdb_patch

        gx_duckdb_patch.apply()
        quality = Path(self.output_dir) / "quality"
        fs = "TupleFilesystemStoreBackend"
        config = DataContextConfig(
            stores={
                "expectations_store": {"class_name": "ExpectationsStore",
                                       "store_backend": {"class_name": "InMemoryStoreBackend"}},
                "validation_results_store": {"class_name": "ValidationResultsStore",
                                             "store_backend": {"class_name": fs,
                                                               "base_directory": str(quality / "validations")}},
                "checkpoint_store": {"class_name": "CheckpointStore",
                                     "store_backend": {"class_name": "InMemoryStoreBackend"}},
                "validation_definition_store": {"class_name": "ValidationDefinitionStore",
                                                "store_backend": {"class_name": "InMemoryStoreBackend"}},
            },
            expectations_store_name="expectations_store",
            validation_results_store_name="validation_results_store",
            checkpoint_store_name="checkpoint_store",
            data_docs_sites={"census": {
                "class_name": "SiteBuilder", "show_how_to_buttons": False,
                "store_backend": {"class_name": fs, "base_directory": str(quality / "data_docs")},
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"}}},
            analytics_enabled=False,
        )
        return gx.get_context(mode="ephemeral", project_config=config)

    def data_docs_index(self) -> str:
        return str(Path(self.output_dir) / "quality" / "data_docs" / "index.html")

    def validate(self, suite_name: str, query: str, key_column: str | None = None) -> GateResult:
        """Validate `query` (a select over the warehouse) against the suite; rows that fail are
        sampled by `key_column` only (a pseudonym or a household/submission id, never a name)."""
        import great_expectations as gx
        from sqlalchemy.pool import NullPool

        from census_pipeline.lib.duckdb_settings import duckdb_settings

        ctx = self._context()
        source = ctx.data_sources.add_sql(
            name="warehouse", connection_string=f"duckdb:///{self.warehouse_path}?access_mode=read_only",
            kwargs={"poolclass": NullPool, "connect_args": {"config": duckdb_settings(self.warehouse_path)}},
            create_temp_table=False)
        batch = source.add_query_asset(name=suite_name, query=query).add_batch_definition_whole_table("all")
        suite = ctx.suites.add(gx.ExpectationSuite(
            **json.loads((SUITES_DIR / f"{suite_name}.json").read_text(encoding="utf-8"))))
        definition = ctx.validation_definitions.add(gx.ValidationDefinition(name=suite_name, data=batch, suite=suite))
        result_format = {"result_format": "SUMMARY", "partial_unexpected_count": 10}
        if key_column:
            result_format["unexpected_index_column_names"] = [key_column]
        checkpoint = ctx.checkpoints.add(gx.Checkpoint(
            name=f"{suite_name}_gate", validation_definitions=[definition], result_format=result_format,
            actions=[gx.checkpoint.UpdateDataDocsAction(name="data_docs", site_names=["census"])]))
        run = checkpoint.run()
        validation = next(iter(run.run_results.values()))
        outcomes = []
        for r in validation.results:
            cfg = r.expectation_config
            errors = [v.get("exception_message") for v in (r.exception_info or {}).values()
                      if isinstance(v, dict) and v.get("raised_exception")]
            if r.exception_info and r.exception_info.get("raised_exception"):
                errors.append(r.exception_info.get("exception_message"))
            res = r.result or {}
            sample = res.get("partial_unexpected_index_list") or []
            if key_column:
                sample = [row.get(key_column) if isinstance(row, dict) else row for row in sample]
            else:
                sample = []
            outcomes.append(ExpectationOutcome(
                rule=(cfg.meta or {}).get("rule", cfg.type), description=cfg.description or cfg.type,
                severity=(cfg.meta or {}).get("severity", "ERROR"), success=bool(r.success),
                unexpected_count=res.get("unexpected_count", res.get("observed_value") if not r.success else 0),
                sample=sample[:10], error="; ".join(e for e in errors if e) or None))
        return GateResult(suite=suite_name, outcomes=outcomes)
