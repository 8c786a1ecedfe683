"""Ingestion: landing zone -> restricted `raw` schema, with the quarantine and the ledger."""


import dagster as dg

from census_pipeline.defs.ingestion import ingest
from census_pipeline.defs.metadata import table_metadata
from census_pipeline.defs.retries import retried_on_transient_io
from census_pipeline.lib.metadata import markdown_table
from census_pipeline.resources import LandingZone, Warehouse

RESTRICTED = {"zone": "restricted"}
CODE_VERSION = "2"  # bump when a change alters what an asset holds (2: line-exact reading, value-free reasons)
COMMON = dict(group_name="ingestion", owners=["team:census-data"], kinds={"duckdb"}, code_version=CODE_VERSION)


@dg.multi_asset(
    specs=[
        dg.AssetSpec(["raw", "household_submissions"], tags=RESTRICTED, **COMMON,
                     description="Household submissions from enumerators' PADs and self-enumeration, as uploaded. "
                                 "One row per submission_id: a re-delivered copy counts once; a copy with other "
                                 "contents is quarantined as a conflicting re-delivery."),
        dg.AssetSpec(["raw", "person_lines"], tags=RESTRICTED, **COMMON,
                     deps=[["raw", "household_submissions"]],
                     description="The person lines (H3 persons) of each submission, item values as uploaded (JSON). "
                                 "One row per person line. Holds names and ID numbers: restricted."),
        dg.AssetSpec(["raw", "death_lines"], tags=RESTRICTED, **COMMON,
                     deps=[["raw", "household_submissions"]],
                     description="Deaths reported on the death form (死亡人口调查表) of each submission. "
                                 "One row per reported death."),
    ],
    can_subset=False,
    # first of the loads: its work is DuckDB's (Python's lock free), so the run's background imports
    # and dbt parse (lib/warm_up.py) overlap it rather than the smaller loads' Python
    op_tags={"dagster/priority": "1"},
)
@retried_on_transient_io
def upload_batches(context: dg.AssetExecutionContext, warehouse: Warehouse, landing: LandingZone):
    """Read new batch files from uploads/pad and uploads/self (in-flight .part/.tmp/dot files are left alone)."""
    root = landing.root
    with warehouse.connect() as con:
        # one transaction: the ledger, the raw lines and the derived tables move together
        n_files = ingest.ingest_submissions(con, root, "uploads", ingest.UPLOAD_CHANNELS)
        context.log.info(f"read {n_files} new batch files from {root / 'uploads'}")
        by_channel = con.execute("""
            select channel, status, form, count(*) from raw.household_submissions group by all order by all
        """).fetchall()
        malformed = con.execute("""
            select k, count(*) from (select unnest(string_split(malformed_optional_keys, ',')) as k
                                     from raw.household_submissions)
            group by all order by all
        """).fetchall()
        yield dg.MaterializeResult(
            asset_key=["raw", "household_submissions"],
            metadata={
                **table_metadata(con, "raw.household_submissions"),
                "new_files": n_files,
                # kept, and left to editing (household_submission.md): counted here so it is never silent
                "optional_keys_of_another_type": dg.MetadataValue.md(
                    markdown_table(["optional key", "submissions"], malformed)),
                "by_channel_status_form": dg.MetadataValue.md(
                    markdown_table(["channel", "status", "form", "submissions"], by_channel)),
            },
        )
        yield dg.MaterializeResult(asset_key=["raw", "person_lines"], metadata=table_metadata(con, "raw.person_lines"))
        yield dg.MaterializeResult(asset_key=["raw", "death_lines"], metadata=table_metadata(con, "raw.death_lines"))


@dg.multi_asset(
    specs=[
        dg.AssetSpec(["raw", "pes_submissions"], tags=RESTRICTED, **COMMON,
                     description="Post-enumeration survey (事后质量抽查) households: the sampled enumeration areas "
                                 "re-enumerated independently after the census. One row per submission_id. Kept "
                                 "apart from the census: PES lines never count (rules.md)."),
        dg.AssetSpec(["raw", "pes_person_lines"], tags=RESTRICTED, **COMMON, deps=[["raw", "pes_submissions"]],
                     description="The persons the PES found, one row per person line (names, ID numbers: "
                                 "restricted)."),
    ],
    can_subset=False,
)
@retried_on_transient_io
def pes_batches(context: dg.AssetExecutionContext, warehouse: Warehouse, landing: LandingZone):
    """Read new PES batch files from pes/ (same line format, ledger, quarantine and exactly-once
    rules as the uploads)."""
    with warehouse.connect() as con:
        n_files = ingest.ingest_submissions(con, landing.root, "pes", ("pes",))
        eas = con.execute("select count(distinct ea_code), count(*) from raw.pes_submissions").fetchall()[0]
        context.log.info(f"read {n_files} new PES batch files from {landing.root / 'pes'}")
        yield dg.MaterializeResult(asset_key=["raw", "pes_submissions"], metadata={
            **table_metadata(con, "raw.pes_submissions"), "new_files": n_files,
            "enumeration_areas": dg.MetadataValue.int(int(eas[0])), "households": dg.MetadataValue.int(int(eas[1]))})
        yield dg.MaterializeResult(asset_key=["raw", "pes_person_lines"],
                                   metadata=table_metadata(con, "raw.pes_person_lines"))


@dg.asset(key=["raw", "listing_frame"], tags=RESTRICTED, **COMMON)
@retried_on_transient_io
def listing_frame(context: dg.AssetExecutionContext, warehouse: Warehouse, landing: LandingZone) -> dg.MaterializeResult:
    """The pre-enumeration listing (摸底底册). One row per listed household; a later file wins."""
    with warehouse.connect() as con:
        with ingest.atomic(con):
            n = ingest.ingest_csv_files(con, landing.root, "frame", "listing_frame", ingest.FRAME_COLUMNS, "household_id")
            if n or not _exists(con, "raw.listing_frame"):
                ingest.rebuild_frame(con)
        return dg.MaterializeResult(metadata={**table_metadata(con, "raw.listing_frame"), "new_files": n})


def _register_spec(table: str, text: str) -> dg.AssetSpec:
    return dg.AssetSpec(["raw", table], tags=RESTRICTED, **COMMON, description=text)


@dg.multi_asset(
    specs=[
        _register_spec("hukou_register", "Household-registration (户籍) extract from public security. One row per "
                       "person_no, the latest extracted_on winning; GB18030 extracts are transcoded."),
        _register_spec("birth_register", "Hospital birth records (出生医学证明). One row per certificate_no, latest extract."),
        _register_spec("death_register", "Death registrations. One row per record_no, latest extract."),
    ],
    can_subset=False,
)
@retried_on_transient_io
def register_extracts(context: dg.AssetExecutionContext, warehouse: Warehouse, landing: LandingZone):
    """Read new register extracts (UTF-8, or GB18030 when the first line says so)."""
    with warehouse.connect() as con:
        new = {}
        with ingest.atomic(con):  # the three registers, ledger and quarantine rows: all or nothing
            for table, (folder, columns, key) in ingest.REGISTERS.items():
                new[table] = ingest.ingest_csv_files(con, landing.root, folder, table, columns, key)
                if new[table] or not _exists(con, f"raw.{table}"):
                    ingest.rebuild_register(con, table, key)
        for table in ingest.REGISTERS:
            yield dg.MaterializeResult(asset_key=["raw", table],
                                       metadata={**table_metadata(con, f"raw.{table}"), "new_files": new[table]})


@dg.asset(key=["raw", "linkage_truth"], tags=RESTRICTED, **COMMON)
@retried_on_transient_io
def linkage_truth(context: dg.AssetExecutionContext, warehouse: Warehouse, landing: LandingZone) -> dg.MaterializeResult:
    """Demo censuses only: which census lines and register records are the same person.

    Read from the generator's truth file beside the landing zone (`<landing>.truth_links.csv.gz`),
    so that linkage precision and recall are measured on every run of a generated census. A real
    census has no such file: the table is empty and linkage quality reads "not measured"."""
    path = landing.truth_links_path
    with warehouse.connect() as con:
        con.execute("create schema if not exists raw")
        if path.exists():
            con.execute(f"""
                create or replace table raw.linkage_truth as
                select * from read_csv('{path.as_posix()}', header = true,
                    columns = {{'record_type': 'varchar', 'record_key': 'varchar', 'person': 'bigint'}})
            """)
        else:
            con.execute("""create or replace table raw.linkage_truth
                           (record_type varchar, record_key varchar, person bigint)""")
        by_type = con.execute("select record_type, count(*) from raw.linkage_truth group by all order by all").fetchall()
        context.log.info(f"linkage truth: {path if path.exists() else 'none (not a generated census)'}")
        return dg.MaterializeResult(metadata={
            **table_metadata(con, "raw.linkage_truth"),
            "truth_file": str(path) if path.exists() else "none: linkage quality is not measured",
            "records_by_type": dg.MetadataValue.md(markdown_table(["record type", "records"], by_type)),
        })


VALUE_SHAPED = r"[0-9]{6,}|\p{Han}"  # an ID number, a phone, a code, a name: never in a quarantine reason


def reasons_by_kind(con, relation: str = "quality.quarantine") -> list[tuple[str, int, bool]]:
    """(reason, lines, whether it holds a value) with a re-delivery's file reference cut to
    ' kept' (the file it conflicts with is named: not a value), most frequent first."""
    return con.execute(f"""
        select kind, count(*), regexp_matches(kind, '{VALUE_SHAPED}')
        from (select regexp_replace(reason, ' kept from .*', ' kept') as kind from {relation})
        group by all order by 2 desc, 1
    """).fetchall()

INPUT_ASSETS = [["raw", "household_submissions"], ["raw", "pes_submissions"], ["raw", "listing_frame"], ["raw", "hukou_register"],
                ["raw", "birth_register"], ["raw", "death_register"]]


@dg.asset(
    key=["quality", "quarantine"], deps=INPUT_ASSETS, group_name="ingestion", owners=["team:census-data"],
    code_version=CODE_VERSION,
    kinds={"duckdb"}, tags={"zone": "analysis"},
    check_specs=[dg.AssetCheckSpec("quarantine_reasons_carry_no_values", asset=["quality", "quarantine"],
                                   description="A reason says what is wrong, never what the value was: no reason "
                                               "holds a run of 6 or more digits (an ID number) or a Chinese "
                                               "character (a name), outside a re-delivery's file reference.")],
)
def quarantine(warehouse: Warehouse):
    """Rejected input lines: file, line number (null for a whole file) and reason. One row per rejected line.

    The raw text of each line stays in the restricted zone (raw.rejected_lines)."""
    with warehouse.connect() as con:
        con.execute("""
            create or replace table quality.quarantine as
            select source_file, line_no, reason from raw.rejected_lines
            union all
            select source_file, line_no, reason from raw.submission_conflicts
            union all
            select source_file, line_no, reason from raw.pes_submission_conflicts
            order by source_file, line_no
        """)
        reasons = reasons_by_kind(con)
        carrying = sum(n for _, n, holds_value in reasons if holds_value)
        yield dg.MaterializeResult(metadata={
            **table_metadata(con, "quality.quarantine"),
            "by_reason": dg.MetadataValue.md(markdown_table(["reason", "lines"], [
                ("(withheld: holds a value)" if holds_value else kind, n) for kind, n, holds_value in reasons])),
        })
        yield dg.AssetCheckResult(check_name="quarantine_reasons_carry_no_values", passed=carrying == 0,
                                  metadata={"reasons_carrying_a_value": dg.MetadataValue.int(int(carrying))})


@dg.asset(
    key=["quality", "ingest_ledger"], deps=[["quality", "quarantine"]], group_name="ingestion", code_version=CODE_VERSION,
    owners=["team:census-data"], kinds={"duckdb"}, tags={"zone": "analysis"},
    check_specs=[dg.AssetCheckSpec("every_input_line_accounted_for", asset=["quality", "ingest_ledger"], blocking=True,
                                   description="For every landing file: lines received = ingested + quarantined.")],
)
def ingest_ledger(warehouse: Warehouse):
    """Every landing file read, with lines received, ingested and quarantined (and lines routed to a
    county step and not yet merged, census_ingest_by_county: none after `census run`). One row per
    file."""
    with warehouse.connect() as con:
        con.execute("""
            create or replace table quality.ingest_ledger as
            with accepted as (
                select source_file, count(*) as n from raw.submission_lines group by all
                union all select source_file, count(*) from raw.listing_frame_received group by all
                union all select source_file, count(*) from raw.hukou_register_received group by all
                union all select source_file, count(*) from raw.birth_register_received group by all
                union all select source_file, count(*) from raw.death_register_received group by all
            ),
            conflicts as (select source_file, count(*) as n from raw.submission_conflicts group by all
                          union all
                          select source_file, count(*) from raw.pes_submission_conflicts group by all),
            rejected as (select source_file, count(*) as n from raw.rejected_lines group by all),
            -- routed to a county step (census_ingest_by_county) and not yet merged: not ingested
            awaiting as (select source_file, sum(lines) as n from raw.file_counties where merged_at is null
                         group by all)
            select f.source_file, f.kind, f.upload_date, f.size_bytes, f.lines_received,
                   coalesce(a.n, 0) - coalesce(c.n, 0) as lines_ingested,
                   coalesce(r.n, 0) + coalesce(c.n, 0) as lines_quarantined,
                   coalesce(w.n, 0)::bigint as lines_awaiting_county,
                   f.ingested_at
            from raw.ingest_files f
            left join accepted a using (source_file)
            left join conflicts c using (source_file)
            left join rejected r using (source_file)
            left join awaiting w using (source_file)
            order by f.source_file
        """)
        totals = con.execute("""
            select kind, count(*), sum(lines_received), sum(lines_ingested), sum(lines_quarantined),
                   sum(lines_awaiting_county)
            from quality.ingest_ledger group by all order by all
        """).fetchall()
        unbalanced = con.execute("""
            select source_file, lines_received, lines_ingested, lines_quarantined, lines_awaiting_county
            from quality.ingest_ledger where lines_received <> lines_ingested + lines_quarantined
        """).fetchall()
        yield dg.MaterializeResult(metadata={
            **table_metadata(con, "quality.ingest_ledger"),
            "totals": dg.MetadataValue.md(markdown_table(
                ["kind", "files", "received", "ingested", "quarantined", "awaiting their county"], totals)),
        })
        yield dg.AssetCheckResult(
            check_name="every_input_line_accounted_for", passed=not unbalanced,
            metadata={"files_checked": sum(t[1] for t in totals), "files_unbalanced": len(unbalanced),
                      "unbalanced": dg.MetadataValue.md(markdown_table(
                          ["file", "received", "ingested", "quarantined", "awaiting their county"],
                          unbalanced[:20]))},
        )


def _exists(con, table: str) -> bool:
    schema, name = table.split(".")
    return bool(con.execute("select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
                            [schema, name]).fetchone()[0])
