"""Quality gates between stages: Great Expectations suites run as Dagster asset checks, and the
listing frame's own gate.

Each suite gives two checks on its asset: `<suite>_gate` (its ERROR expectations, blocking:
a failure stops everything downstream in the same run, Python assets included) and
`<suite>_warnings` (its WARN expectations, reported only). Failing rows are sampled by a
pseudonym or a household/submission id, never by a name or an ID number. Each check shows the
suite's expectations as a table (counts only) and links to the suite's own page, which opens
offline (resources/data_docs.py). On CENSUS_ENGINE=spark the suites of the tables dbt builds run on
GX's Spark execution engine (resources/expectations.py); each check names the engine it ran on.
"""

import dataclasses
from pathlib import Path

import dagster as dg

from census_pipeline.lib.metadata import markdown_table
from census_pipeline.resources import Warehouse
from census_pipeline.resources.expectations import GateResult, GreatExpectations


@dataclasses.dataclass(frozen=True)
class Gate:
    asset: tuple[str, ...]
    suite: str
    query: str
    key_column: str
    text: str
    # the gate reads a table dbt builds (on CENSUS_ENGINE=spark, validated on Spark), not one ingestion
    # writes into the warehouse (said per gate: the quality schema holds both kinds)
    built_by_dbt: bool = True


GATES = [
    Gate(("raw", "household_submissions"), "raw__household_submissions", "select * from raw.household_submissions",
         "submission_id", "Raw submissions: timestamps inside the census windows, household sizes, ID "
                          "formats, one EA per household. (Keys and code lists are ingestion's own "
                          "checks: a line failing them is quarantined, never in this table.)", built_by_dbt=False),
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


def expectations_table(result: GateResult) -> str:
    """Every expectation of the suite, one row each: what it checks, where, and what was found (counts only)."""
    rows = [(o.rule, o.column or "(rows)", o.words, o.severity, "passed" if o.success else "**FAILED**", o.observed)
            for o in result.outcomes]
    return markdown_table(["expectation", "column", "in words", "severity", "result", "observed"], rows)


def _result(gate: Gate, result: GateResult, severity: str) -> dg.AssetCheckResult:
    failed = result.failed(severity)
    rows = [(o.rule, o.description, o.unexpected_count, ", ".join(str(s)[:16] for s in o.sample[:5]), o.error or "")
            for o in failed]
    report = result.report or ""
    return dg.AssetCheckResult(
        asset_key=dg.AssetKey(list(gate.asset)),
        check_name=f"{gate.suite}_{'gate' if severity == 'ERROR' else 'warnings'}",
        passed=not failed,
        severity=dg.AssetCheckSeverity.ERROR if severity == "ERROR" else dg.AssetCheckSeverity.WARN,
        metadata={
            "expectations_evaluated": result.evaluated(severity),
            "expectations_failed": len(failed),
            "validated_on": result.validated_on,
            "expectations": dg.MetadataValue.md(expectations_table(result)),
            "failures": dg.MetadataValue.md(markdown_table(
                ["rule", "what it checks", "unexpected", "sample keys", "error"], rows) if rows else "none"),
            "report": dg.MetadataValue.url(Path(report).as_uri()) if report else dg.MetadataValue.text("not written"),
            "report_path": dg.MetadataValue.path(report),
            "data_docs": dg.MetadataValue.path(result.data_docs_page or ""),
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
        result = great_expectations.validate(gate.suite, gate.query, gate.key_column, built_by_dbt=gate.built_by_dbt)
        for severity in ("ERROR", "WARN"):
            yield _result(gate, result, severity)

    return _check


# ----------------------------------------------------------------------------- the listing frame

FRAME = dg.AssetKey(["raw", "listing_frame"])
EXAMPLES = 5  # household ids shown in the check's metadata (never a name or an ID number)

# Per household_id, over the frame as received (every row of every frame file): rows listed more
# than once in one file, with different contents (two dwellings) or identical (a copied row); and
# ea_code values across all files
FRAME_CLASHES_SQL = """
    with per_file as (
        select household_id, source_file, count(*) as n_rows,
               count(distinct (ea_code, urban_rural_code, address, household_type, expected_persons, listed_on))
                   as n_contents
        from raw.listing_frame_received where household_id is not null group by all
    ),
    per_id as (
        select household_id,
               bool_or(n_contents > 1) as differs_in_a_file,
               bool_or(n_rows > 1 and n_contents = 1) as copied_in_a_file,
               sum(n_rows) filter (where n_rows > 1) as rows_repeated
        from per_file group by all
    ),
    eas as (
        select household_id, count(distinct ea_code) > 1 as several_eas
        from raw.listing_frame_received where household_id is not null group by all
    )
    select household_id, differs_in_a_file, copied_in_a_file, coalesce(rows_repeated, 0) as rows_repeated,
           several_eas
    from per_id join eas using (household_id)
    where differs_in_a_file or copied_in_a_file or several_eas
    order by household_id
"""


@dataclasses.dataclass(frozen=True)
class FrameClashes:
    """household_ids of the listing frame that name more than one household, or one row twice."""

    ids_listed: int
    rows_received: int
    two_households_in_a_file: list[str]  # one id, rows with different contents in one frame file
    several_eas: list[str]  # one id, different ea_code values (in one file or across files)
    copied_rows: list[str]  # one id, the same row more than once in one file, and nothing else wrong
    rows_repeated: int  # rows of ids listed more than once in one file

    @property
    def blocking(self) -> list[str]:
        return sorted(set(self.two_households_in_a_file) | set(self.several_eas))

    def description(self) -> str | None:
        if self.blocking:
            return (f"{len(self.blocking):,} household_id(s) of the listing frame name more than one household "
                    f"({len(self.two_households_in_a_file):,} listed with different rows in one frame file, "
                    f"{len(self.several_eas):,} with different ea_code values): supersession would merge their "
                    "families into one; correct the listing and deliver the frame again")
        if self.copied_rows:
            return (f"{len(self.copied_rows):,} household_id(s) appear as the same row more than once in one frame "
                    f"file ({self.rows_repeated:,} rows): counted once; the listing should hold one row per household")
        return None


def frame_clashes(con) -> FrameClashes:
    if not con.execute("select count(*) from information_schema.tables "
                       "where table_schema = 'raw' and table_name = 'listing_frame_received'").fetchone()[0]:
        return FrameClashes(0, 0, [], [], [], 0)
    ids, rows = con.execute("select count(distinct household_id), count(*) from raw.listing_frame_received").fetchone()
    found = con.execute(FRAME_CLASHES_SQL).fetchall()
    return FrameClashes(
        ids_listed=int(ids), rows_received=int(rows),
        two_households_in_a_file=[r[0] for r in found if r[1]], several_eas=[r[0] for r in found if r[4]],
        copied_rows=[r[0] for r in found if r[2] and not (r[1] or r[4])],
        rows_repeated=int(sum(r[3] for r in found)))


@dg.asset_check(
    asset=FRAME, name="one_household_per_household_id", blocking=True,
    description="Each household_id of the listing frame names one household: it is not listed twice in one frame "
                "file, and has one ea_code in every file (blocking: supersession merges submissions by "
                "household_id, so two families under one id are counted as one). The same row copied twice in "
                "a file is reported as a warning.",
)
def one_household_per_household_id(warehouse: Warehouse) -> dg.AssetCheckResult:
    """The frame is one row per listed household (spec: landing_zone.md), and every later stage keys a
    household by its id. Two households under one id are not a bad record that can be set aside: the
    listing's numbering is wrong (a township that numbered two villages alike gave tens of thousands),
    and no later step can tell the families apart, so the census stops until the frame is corrected.
    A row copied twice changes no figure (the frame keeps one), so it only warns."""
    with warehouse.connect(read_only=True) as con:
        c = frame_clashes(con)
    return dg.AssetCheckResult(
        passed=not (c.blocking or c.copied_rows),
        severity=dg.AssetCheckSeverity.ERROR if c.blocking else dg.AssetCheckSeverity.WARN,
        description=c.description(),
        metadata={
            "frame_rows_received": c.rows_received, "household_ids_listed": c.ids_listed,
            "household_ids_naming_several_households": len(c.blocking),
            "household_ids_listed_twice_in_a_file_with_different_rows": len(c.two_households_in_a_file),
            "household_ids_with_several_ea_codes": len(c.several_eas),
            "household_ids_with_a_copied_row": len(c.copied_rows),
            "rows_of_ids_listed_twice_in_a_file": c.rows_repeated,
            "example_household_ids": ", ".join((c.blocking or c.copied_rows)[:EXAMPLES]) or "none",
        },
    )


gate_checks = [*(build_gate(g) for g in GATES), one_household_per_household_id]
