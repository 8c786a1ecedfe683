"""The post-enumeration (coverage) survey: what the UI shows about its dbt models once built.

The survey's batches are ingested with the census (defs/ingestion, `pes_batches`); its matching
and dual-system estimates are dbt models (dbt_project/models/intermediate/coverage_survey/ and
quality.pes_estimates), built with the microdata and grouped `coverage_survey` by their folder.
"""

from __future__ import annotations

import dagster as dg

from census_pipeline.lib.metadata import markdown_table


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


COVERAGE_SURVEY_METADATA = {("quality", "pes_estimates"): pes_metadata}
