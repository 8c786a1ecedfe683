"""Quality gates between stages: Great Expectations suites run as Dagster asset checks.

Each suite gives two checks on its asset: `<suite>_gate` (its ERROR expectations, blocking:
a failure stops everything downstream in the same run, Python assets included) and
`<suite>_warnings` (its WARN expectations, reported only). Failing rows are sampled by a
pseudonym or a household/submission id, never by a name or an ID number.
"""

import dataclasses

import dagster as dg

from census_pipeline.lib.metadata import markdown_table
from census_pipeline.resources.expectations import GateResult, GreatExpectations


@dataclasses.dataclass(frozen=True)
class Gate:
    asset: tuple[str, ...]
    suite: str
    query: str
    key_column: str
    text: str


GATES = [
    Gate(("raw", "household_submissions"), "raw__household_submissions", "select * from raw.household_submissions",
         "submission_id", "Raw submissions: keys, code formats, timestamps inside the census windows."),
    Gate(("microdata", "persons"), "microdata__persons", "select * from microdata.persons where is_counted",
         "person_key", "Counted persons: code lists, ages, one head per family household, unique pseudonyms, "
                       "EAs of the frame, imputation rates."),
    Gate(("microdata", "households"), "microdata__households", "select * from microdata.households",
         "household_id", "Households: unique, typed, sized consistently with their persons."),
    Gate(("linkage", "hukou_coverage"), "linkage__comparisons", "select * from linkage.hukou_coverage",
         "region_code", "Register comparisons: rates within [0, 100], outcomes add up, counties add up to the city, "
                        "consistent with quality.coverage."),
    Gate(("quality", "pes_estimates"), "quality__pes_estimates", "select * from quality.pes_estimates",
         "region_or_stratum", "Coverage survey: estimates inside their intervals, levels add up to the city, the "
                              "city's count is the published population, match rates plausible."),
    Gate(("bulletin", "b1_population"), "bulletin__tables", "select * from bulletin.b1_population",
         "region_code", "Bulletin tables: counties add up to the city, male + female = population, age groups add "
                        "up, percentages within [0, 100], the city total near the listing frame's."),
]


def _result(gate: Gate, result: GateResult, severity: str, docs: str) -> dg.AssetCheckResult:
    failed = result.failed(severity)
    rows = [(o.rule, o.description, o.unexpected_count, ", ".join(str(s)[:16] for s in o.sample[:5]), o.error or "")
            for o in failed]
    return dg.AssetCheckResult(
        asset_key=dg.AssetKey(list(gate.asset)),
        check_name=f"{gate.suite}_{'gate' if severity == 'ERROR' else 'warnings'}",
        passed=not failed,
        severity=dg.AssetCheckSeverity.ERROR if severity == "ERROR" else dg.AssetCheckSeverity.WARN,
        metadata={
            "expectations_evaluated": result.evaluated(severity),
            "expectations_failed": len(failed),
            "failures": dg.MetadataValue.md(markdown_table(
                ["rule", "what it checks", "unexpected", "sample keys", "error"], rows) if rows else "none"),
            "data_docs": dg.MetadataValue.path(docs),
        },
    )


def build_gate(gate: Gate) -> dg.AssetChecksDefinition:
    key = dg.AssetKey(list(gate.asset))

    @dg.multi_asset_check(
        name=f"{gate.suite}_suite",
        specs=[
            dg.AssetCheckSpec(f"{gate.suite}_gate", asset=key, blocking=True,
                              description=f"Great Expectations gate (ERROR, blocking). {gate.text}"),
            dg.AssetCheckSpec(f"{gate.suite}_warnings", asset=key, blocking=False,
                              description=f"Great Expectations warnings (WARN, reported). {gate.text}"),
        ],
    )
    def _check(context: dg.AssetCheckExecutionContext, great_expectations: GreatExpectations):
        result = great_expectations.validate(gate.suite, gate.query, gate.key_column)
        docs = great_expectations.data_docs_index()
        for severity in ("ERROR", "WARN"):
            yield _result(gate, result, severity, docs)

    return _check


gate_checks = [build_gate(g) for g in GATES]
