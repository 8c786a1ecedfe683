"""Linkage (census <-> registers): what the UI shows about its dbt models once they are built.

The linkage models themselves are dbt models (dbt_project/models/intermediate/linkage/, the
probabilistic step a Python model running Splink inside dbt, docs/adr); they build with the
microdata (defs/microdata/assets.py) and are grouped `linkage` by their folder.
"""

from __future__ import annotations

import dagster as dg

from census_pipeline.lib.metadata import markdown_table


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


LINKAGE_METADATA = {("linkage", "linkage_quality"): linkage_quality_metadata}
