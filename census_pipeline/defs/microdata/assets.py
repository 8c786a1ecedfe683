"""Microdata: the dbt project (staging -> cleaned, de-identified microdata) as Dagster assets.

The dbt models run in two `dbt build`s per run: up to the microdata, then the bulletin, so that
the microdata quality gates (Great Expectations) sit between them and a failing gate stops the
bulletin. dbt tests appear as asset checks. While dbt runs it holds the warehouse's write lock,
so the metadata read from the warehouse (row counts, column schemas, imputation rates) is added
once the build has finished.
"""

import time
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from census_pipeline.defs.metadata import table_metadata
from census_pipeline.defs.microdata.project import DBT_DIR, dbt_project, prune_invocation_folders
from census_pipeline.lib.lineage import cached_column_lineage, read_cache, sql_hazards, write_cache
from census_pipeline.lib.metadata import markdown_table
from census_pipeline.resources import PseudonymKey, Warehouse

GROUP_BY_SCHEMA = {"staging": "microdata", "codes": "microdata", "intermediate": "microdata", "microdata": "microdata",
                   "quality": "quality", "linkage": "linkage", "linkage_audit": "linkage", "bulletin": "publication"}
RESTRICTED_SCHEMAS = {"raw", "staging", "intermediate", "linkage_audit"}  # names, ID numbers or person_no
LINKAGE_MODELS = ("int_linkage_", "int_register_links", "int_name_pinyin", "int_registrants_matched")
PES_MODELS = ("int_pes_", "stg_landing__pes_", "pes_")


class CensusTranslator(DagsterDbtTranslator):
    """Asset keys follow the warehouse: [schema, table]; groups are census stages."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return super().get_asset_key(dbt_resource_props)
        schema = dbt_resource_props.get("config", {}).get("schema") or dbt_resource_props["schema"]
        return dg.AssetKey([schema, dbt_resource_props.get("alias") or dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["name"].startswith(LINKAGE_MODELS):
            return "linkage"  # the restricted linkage steps sit with the comparisons they feed
        if dbt_resource_props["name"].startswith(PES_MODELS):
            return "coverage_survey"  # the post-enumeration survey and its estimates
        schema = dbt_resource_props.get("config", {}).get("schema") or dbt_resource_props.get("schema")
        return GROUP_BY_SCHEMA.get(schema, "microdata")

    def get_owners(self, dbt_resource_props: Mapping[str, Any]):
        return ["team:census-data"]

    def get_tags(self, dbt_resource_props: Mapping[str, Any]) -> Mapping[str, str]:
        schema = dbt_resource_props.get("config", {}).get("schema")
        zone = "restricted" if schema in RESTRICTED_SCHEMAS else "analysis"
        return {**super().get_tags(dbt_resource_props), "zone": zone}


IMPUTED_ITEMS = {"sex": "sex_edit_rule", "birth month": "birth_edit_rule", "relationship": "relationship_edit_rule",
                 "ethnicity": "ethnicity_edit_rule", "education": "education_edit_rule", "literacy": "literate_edit_rule"}


def persons_quality_metadata(con) -> dict:
    """Edit and imputation rates per item among counted persons, for statisticians."""
    counted = con.execute("select count(*) from microdata.persons where is_counted").fetchone()[0] or 1
    rows, meta = [], {}
    for item, col in IMPUTED_ITEMS.items():
        by_rule = con.execute(f"select {col}, count(*) from microdata.persons where is_counted and {col} is not null "
                              f"group by all order by all").fetchall()
        total = sum(n for _, n in by_rule)
        rows.append((item, total, round(100 * total / counted, 3), ", ".join(f"{r} {n:,}" for r, n in by_rule)))
        meta[f"edit_rate_pct/{item.replace(' ', '_')}"] = dg.MetadataValue.float(round(100 * total / counted, 4))
    by_county = con.execute("""
        select county_code, count(*) filter (where is_counted), count(*) filter (where is_duplicate_removed)
        from microdata.persons group by all order by all""").fetchall()
    return {
        **meta,
        "persons_counted": dg.MetadataValue.int(int(counted)),
        "edits_and_imputation": dg.MetadataValue.md(markdown_table(
            ["item", "changed", "% of counted", "by rule"], rows)),
        "counted_by_county": dg.MetadataValue.md(markdown_table(
            ["county", "persons counted", "duplicates removed"], by_county)),
    }


def linkage_quality_metadata(con) -> dict:
    """Precision, recall and F1 of linkage against the generator's truth, for the UI."""
    rows = con.execute("""
        select scope, links, true_pairs, true_links, false_links, false_links_unflagged, precision_pct, recall_pct,
               f1_pct, truth_available
        from linkage.linkage_quality order by scope_order""").fetchall()
    links = con.execute("select link_method, count(*) from intermediate.int_register_links group by all order by all"
                        ).fetchall()
    meta = {"links_by_method": dg.MetadataValue.md(markdown_table(["method", "registrants"], links))}
    if not rows or not rows[0][-1]:
        return {**meta, "linkage_quality": dg.MetadataValue.text("not measured: no generator truth (a real census)")}
    keys = {"deterministic (valid ID)": "id", "probabilistic (residue)": "residue", "whole census": "whole"}
    for scope, *_rest, p, r, f1, _ in rows:
        for name, value in (("precision_pct", p), ("recall_pct", r), ("f1_pct", f1)):
            if value is not None:
                meta[f"{name}/{keys[scope]}"] = dg.MetadataValue.float(float(value))
    meta["linkage_quality"] = dg.MetadataValue.md(markdown_table(
        ["scope", "links", "true pairs", "true links", "false links", "false, unflagged", "precision %", "recall %",
         "F1 %"], [r[:-1] for r in rows]))
    return meta


def pes_metadata(con) -> dict:
    """The coverage survey for statisticians: sample sizes, match rates, the estimate and its interval."""
    city = con.execute("""
        select census_count, p_sample_persons, p_sample_matched, match_rate_pct, e_sample_records,
               correct_enumeration_pct, dse, dse_ci_half_width, net_omission_pct, ci_low_pct, ci_high_pct,
               jackknife_replicates
        from quality.pes_estimates where level = 'city'""").fetchall()
    eas, households = con.execute("select count(distinct ea_code), count(*) from raw.pes_submissions").fetchall()[0]
    if not city or city[0][8] is None:
        return {"pes": dg.MetadataValue.text("no post-enumeration survey in the landing zone (pes/): not estimated")}
    (count, p, m, match_rate, e, ce_rate, dse, dse_ci, rate, lo, hi, reps) = city[0]
    interval = (f"95% CI {float(lo):.2f}% to {float(hi):.2f}%" if lo is not None
                else "no interval: every stratum has a single sampled EA")
    by_method = con.execute("select match_method, count(*) from quality.pes_matches group by all order by all").fetchall()
    rows = con.execute("""
        select region_or_stratum, census_count, p_sample_persons, match_rate_pct, correct_enumeration_pct, dse,
               net_omission_pct, ci_low_pct, ci_high_pct
        from quality.pes_estimates where level in ('county_group', 'county') order by level_order, region_or_stratum
    """).fetchall()
    return {
        "pes_sample_eas": dg.MetadataValue.int(int(eas)),
        "pes_sample_households": dg.MetadataValue.int(int(households)),
        "pes_sample_persons": dg.MetadataValue.int(int(p)),
        "p_sample_match_rate_pct": dg.MetadataValue.float(float(match_rate)),
        "e_sample_records": dg.MetadataValue.int(int(e)),
        "e_sample_correct_enumeration_pct": dg.MetadataValue.float(float(ce_rate or 0)),
        "census_count": dg.MetadataValue.int(int(count)),
        "dse_population": dg.MetadataValue.int(int(dse)),
        "net_omission_pct/city": dg.MetadataValue.float(float(rate)),
        **({"net_omission_ci95_low_pct/city": dg.MetadataValue.float(float(lo)),
            "net_omission_ci95_high_pct/city": dg.MetadataValue.float(float(hi))} if lo is not None else {}),
        "headline": dg.MetadataValue.md(
            f"**Net omission rate {float(rate):.2f}%** ({interval}): "
            f"DSE {int(dse):,} ± {int(dse_ci or 0):,} against {int(count):,} counted; {int(p):,} PES persons in "
            f"{int(eas)} EAs ({int(households):,} households), {float(match_rate):.2f}% matched; "
            f"jackknife over {int(reps)} EAs."),
        "matches_by_method": dg.MetadataValue.md(markdown_table(["method", "PES persons"], by_method)),
        "by_county": dg.MetadataValue.md(markdown_table(
            ["county group / county", "counted", "PES persons", "match %", "correct enum. %", "DSE", "net omission %",
             "95% low", "95% high"], rows)),
    }


EXTRA_METADATA = {("microdata", "persons"): persons_quality_metadata,
                  ("linkage", "linkage_quality"): linkage_quality_metadata,
                  ("quality", "pes_estimates"): pes_metadata}


def _relations(manifest: Mapping[str, Any], con) -> tuple[dict, dict]:
    """Every table and view dbt knows, by (schema, name): its asset key and its columns in the
    warehouse (one catalog query, once dbt has finished: no second connection while it runs)."""
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
    return keys, columns


LINEAGE_CACHE = DBT_DIR / "target" / "column_lineage_cache.json"  # beside dbt's artifacts, gitignored


def model_sql_metadata(context: dg.AssetExecutionContext, invocation, held: list[dg.Output], con,
                       secret: str) -> dict[str, dict]:
    """By output name: `dagster/column_lineage` (from the compiled SQL: census_pipeline/lib/lineage.py)
    and `compiled_sql`, the SQL dbt ran, for each SQL model this build wrote. Column names and SQL
    only, never data values; SQL holding a secret or an ID-number-like literal is withheld.

    Not dagster-dbt's `fetch_column_metadata()`: it opens an adapter connection per model from this
    process while dbt still runs, and DuckDB lets one process write (or, with a writer, none read)."""
    started = time.perf_counter()
    compiled = {r["unique_id"]: r.get("compiled_code")
                for r in invocation.get_artifact("run_results.json")["results"]}
    keys, columns = _relations(invocation.manifest, con)
    cache = read_cache(LINEAGE_CACHE)
    cached = len(cache)
    out, n_columns, n_resolved = {}, 0, 0
    for event in held:
        uid = getattr(event.metadata.get("unique_id"), "text", None)
        node, code = invocation.manifest["nodes"].get(uid, {}), compiled.get(uid)
        if node.get("resource_type") != "model" or node.get("language") != "sql" or not code:
            continue  # seeds read no table; Python models are not SQL: neither gets lineage
        own = columns.get((node["schema"].lower(), (node.get("alias") or node["name"]).lower()), [])
        found = cached_column_lineage(code, columns, own, cache)
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


def _build(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: Warehouse, secret: str):
    invocation = dbt.cli(["build"], context=context, raise_on_error=False)
    held = []
    for event in invocation.stream():
        if isinstance(event, dg.Output):
            held.append(event)  # metadata is added below, once dbt has let go of the warehouse
        else:
            yield event
    with warehouse.connect(read_only=True) as con:
        try:
            models = model_sql_metadata(context, invocation, held, con, secret) if held else {}
        except Exception as e:  # a reader's aid: never lose the build's outputs over it
            context.log.warning(f"No column lineage or compiled SQL this run: {type(e).__name__}: {e}")
            models = {}
        for event in held:
            key = context.asset_key_for_output(event.output_name)
            table = ".".join(key.path)
            spec = context.assets_def.specs_by_key[key]
            extra = table_metadata(con, table, spec.metadata.get("dagster/column_schema"))
            extra.update(models.get(event.output_name, {}))
            if tuple(key.path) in EXTRA_METADATA:
                extra.update(EXTRA_METADATA[tuple(key.path)](con))
            yield event.with_metadata({**event.metadata, **extra})
    removed = prune_invocation_folders(DBT_DIR / "target")
    if removed:
        context.log.info(f"removed {removed} old dbt invocation folders from {DBT_DIR / 'target'}")
    if not invocation.is_successful():
        raise dg.Failure("dbt build failed: see the dbt log above for the failing model or test")


TRANSLATOR = CensusTranslator(settings=DagsterDbtTranslatorSettings(enable_code_references=False))
BULLETIN = "path:models/marts/bulletin"


@dbt_assets(manifest=dbt_project.manifest_path, project=dbt_project, dagster_dbt_translator=TRANSLATOR,
            exclude=BULLETIN, name="census_microdata_models")
def census_microdata_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: Warehouse,
                            pseudonym_key: PseudonymKey):
    """The dbt models up to cleaned microdata, follow-up and coverage, in one `dbt build`."""
    pseudonym_key.announce(context.log)
    yield from _build(context, dbt, warehouse, pseudonym_key.key)


@dbt_assets(manifest=dbt_project.manifest_path, project=dbt_project, dagster_dbt_translator=TRANSLATOR,
            select=BULLETIN, name="census_bulletin_models")
def census_bulletin_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: Warehouse,
                           pseudonym_key: PseudonymKey):
    """The bulletin tables, in a second `dbt build`: they run only once the microdata gates pass."""
    yield from _build(context, dbt, warehouse, pseudonym_key.key)  # the key: to keep it out of metadata
