"""Upload ingestion county by county: the province path (issue 14; docs/scale-out.md).

`census run` ingests every new upload batch in one step (`upload_batches`). A province's
office may instead ingest county by county, each county a step of its own that writes a DuckDB
file of its own (`<warehouse>.counties/<county>.duckdb`), so that counties never share a writer
and a failed county is re-executed alone:

    route_uploads  ->  ingest_county[330102], ingest_county[330105], ...  ->  merge_counties

A batch file may hold several counties' households (a self-enumeration batch), so the routing
step reads each new file once first: its ledger row, the lines that name no county of the census
area quarantined, and the work of each county. The merge step copies each county's finished lines
into the warehouse and rebuilds the submission tables (supersession by submission_id must see
every county). Lines routed and not yet merged are counted, not lost: the ingest ledger shows them
(`lines_awaiting_county`; its balance check fails while any wait), and `census run` itself merges
what county steps finished and reads any county left waiting (ingest.finish_routed). A routed
file must stay in the landing zone, unchanged, until its counties are ingested. Steps run in the
run's process, one after another here (ADR 0001), but nothing in a county step touches the
warehouse.
"""

import dagster as dg

from census_pipeline.defs.ingestion import ingest
from census_pipeline.defs.metadata import table_metadata
from census_pipeline.lib.codes import counties
from census_pipeline.lib.metadata import markdown_table
from census_pipeline.resources import LandingZone, Warehouse


class CountySelection(dg.Config):
    counties: list[str] = []  # only these counties' steps (six-digit codes); empty: every county with lines waiting


@dg.op(out=dg.DynamicOut(list, is_required=False), tags={"census/stage": "ingestion"})
def route_uploads(context: dg.OpExecutionContext, config: CountySelection, warehouse: Warehouse,
                  landing: LandingZone):
    """Read each new upload batch once: its ledger row (lines received), the lines that name no
    county of the census area quarantined with the contract's reason, and for each county its lines
    name, work for that county's step. One step per county with lines waiting follows."""
    unknown = sorted(set(config.counties) - set(counties()))
    if unknown:
        raise dg.Failure(f"not counties of the census area (codes/regions.csv): {', '.join(unknown)}")
    with warehouse.connect() as con:
        # a county file left by an earlier run (a county that finished before another failed) is
        # merged now, or dropped when it was done for another routing: each county step starts afresh
        ingest.ensure_schema(con)
        ingest.merge_counties(con)
        n_files = ingest.route_submission_files(con, landing.root, ingest.UPLOAD_CHANNELS)
        work = ingest.pending_by_county(con, landing.root)
    chosen = {c: files for c, files in work.items() if not config.counties or c in config.counties}
    context.log.info(f"routed {n_files} new batch files; lines waiting in {len(work)} counties, "
                     f"{len(chosen)} of them ingested now")
    for county, files in sorted(chosen.items()):
        yield dg.DynamicOutput([county, files], mapping_key=county)


@dg.op(tags={"census/stage": "ingestion"})
def ingest_county(context: dg.OpExecutionContext, work: list, warehouse: Warehouse, landing: LandingZone) -> list:
    """One county's lines of the files routed to it: checked against the contract, quarantined or
    shredded, into the county's own DuckDB file, one transaction per chunk of files."""
    county, files = work
    db = ingest.county_folder(warehouse.path) / f"{county}.duckdb"
    read = ingest.ingest_county(db, landing.root, county, [tuple(f) for f in files], ingest.UPLOAD_CHANNELS)
    lines = sum(n for _, n in files)
    context.log.info(f"county {county}: {read} of {len(files)} files read ({lines} lines routed to it)")
    return [county, len(files), lines]


@dg.op(tags={"census/stage": "ingestion"})
def merge_counties(context: dg.OpExecutionContext, counties_done: list, warehouse: Warehouse):
    """Each county's finished lines into the warehouse (one transaction per county), then the
    submission tables rebuilt: raw.household_submissions, person_lines and death_lines."""
    with warehouse.connect() as con:
        merged = ingest.merge_counties(con)
        ingest.rebuild_if_needed(con, "uploads")
        waiting = con.execute("select county_code, count(*), sum(lines) from raw.file_counties "
                              "where merged_at is null group by all order by all").fetchall()
        context.log.info(f"merged {sum(merged.values())} files of {len(merged)} counties; "
                         f"{len(waiting)} counties still waiting")
        yield dg.AssetMaterialization(
            asset_key=["raw", "household_submissions"],
            description="ingested county by county (census_ingest_by_county)",
            metadata={**table_metadata(con, "raw.household_submissions"),
                      "files_merged_by_county": dg.MetadataValue.md(
                          markdown_table(["county", "files"], sorted(merged.items()))),
                      "counties_still_waiting": dg.MetadataValue.md(
                          markdown_table(["county", "files", "lines"], waiting))})
        for table in ("person_lines", "death_lines"):
            yield dg.AssetMaterialization(asset_key=["raw", table], metadata=table_metadata(con, f"raw.{table}"))
    yield dg.Output(sorted(merged))


@dg.job(
    executor_def=dg.in_process_executor,
    tags={"census/trigger": "job"},
    description="Upload batches ingested county by county: a routing step, one step per county (each "
                "writing a DuckDB file of its own), and a merge into the warehouse. The province path "
                "(docs/scale-out.md); `census run` ingests the same lines in one step.",
)
def census_ingest_by_county():
    merge_counties(route_uploads().map(ingest_county).collect())
