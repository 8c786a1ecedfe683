"""`census run`: materialize every asset through Dagster, in process, and summarise."""

from __future__ import annotations

import os
import time
from pathlib import Path

import dagster as dg


def ensure_instance_config(home: str) -> None:
    """Give a new DAGSTER_HOME the project's instance settings (one run at a time)."""
    import shutil

    from census_pipeline.lib.codes import PROJECT_ROOT

    os.makedirs(home, exist_ok=True)
    target = os.path.join(home, "dagster.yaml")
    if not os.path.exists(target):
        shutil.copy(PROJECT_ROOT / "dagster.yaml", target)


def _instance() -> dg.DagsterInstance:
    """The DAGSTER_HOME instance when set (runs show in `make ui`), else a throwaway one."""
    if os.environ.get("DAGSTER_HOME"):
        ensure_instance_config(os.environ["DAGSTER_HOME"])
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()


def materialize_census(instance: dg.DagsterInstance | None = None, selection: str = "*",
                       tags: dict | None = None) -> dg.ExecuteInProcessResult:
    """Every asset and every asset check (the quality gates included), in process."""
    from census_pipeline.definitions import defs

    return dg.materialize(
        [*defs.assets, *defs.asset_checks],
        resources=defs.resources,
        instance=instance,
        selection=selection,
        raise_on_error=False,
        tags=tags,
        run_config={"loggers": {"console": {"config": {"log_level": os.environ.get("CENSUS_LOG_LEVEL", "INFO")}}}},
    )


HEADLINE_ASSETS = {"linkage/linkage_quality", "quality/pes_estimates"}  # their figures are printed after a run


def _truth_net_omission(landing: str) -> float | None:
    """The planted net omission rate of a generated census (its truth file), else None."""
    import json

    from census_pipeline.lib.generator import truth_path_for

    path = truth_path_for(Path(landing))
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8")).get("pes", {}).get("net_omission_rate_pct")


def materialize_all(locations: dict[str, str], selection: str = "*") -> int:
    started = time.perf_counter()
    with _instance() as instance:
        result = materialize_census(instance, selection, tags={"census/trigger": "census run"})
        summary = summarise(result)
    elapsed = time.perf_counter() - started
    print(f"\ncensus run {'succeeded' if summary['ok'] else 'FAILED'} in {elapsed:.0f} s (run {result.run_id[:8]})")
    print(f"  assets materialized: {summary['materialized']}   checks passed: {summary['checks_passed']}"
          f"   checks failed: {len(summary['checks_failed'])}   steps failed: {len(summary['steps_failed'])}")
    for name in summary["steps_failed"]:
        print(f"  FAILED step: {name}")
    for name, severity in summary["checks_failed"]:
        print(f"  failed check ({severity}): {name}")
    for key in ("raw/household_submissions", "raw/person_lines", "quality/quarantine"):
        if key in summary["row_counts"]:
            print(f"  {key}: {summary['row_counts'][key]:,} rows")
    h = summary["headline"]
    if "precision_pct/whole" in h:
        print(f"  linkage vs the generator's truth: residue precision {h.get('precision_pct/residue', 0):.3f}% "
              f"recall {h.get('recall_pct/residue', 0):.3f}%; whole census precision {h['precision_pct/whole']:.3f}% "
              f"recall {h['recall_pct/whole']:.3f}%")
    if "net_omission_pct/city" in h:
        truth = _truth_net_omission(locations["CENSUS_LANDING_DIR"])
        ci = (f"95% CI {h['net_omission_ci95_low_pct/city']:.2f}% to {h['net_omission_ci95_high_pct/city']:.2f}%"
              if "net_omission_ci95_low_pct/city" in h else "no interval: one sampled EA per stratum")
        print(f"  coverage survey (PES): net omission rate {h['net_omission_pct/city']:.2f}% ({ci})"
              + (f"; generator's truth {truth:.2f}%" if truth is not None else ""))
    print(f"  landing zone: {locations['CENSUS_LANDING_DIR']}")
    print(f"  warehouse:    {locations['CENSUS_WAREHOUSE']}")
    print(f"  outputs:      {locations['CENSUS_OUTPUT_DIR']}")
    bulletin = os.path.join(locations["CENSUS_OUTPUT_DIR"], "bulletin", "bulletin.html")
    if os.path.exists(bulletin):
        print(f"  bulletin:     {bulletin} (and b1..b8 .csv, bulletin.xlsx beside it)")
    if os.environ.get("DAGSTER_HOME"):
        print(f"  Dagster runs: {os.environ['DAGSTER_HOME']} (make ui to browse them)")
    return 0 if summary["ok"] else 1


def summarise(result: dg.ExecuteInProcessResult) -> dict:
    materialized, row_counts, passed, headline = 0, {}, 0, {}
    failed_checks: list[tuple[str, str]] = []
    for event in result.all_events:
        if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            materialized += 1
            mat = event.event_specific_data.materialization
            if mat.asset_key.to_user_string() in HEADLINE_ASSETS:
                headline.update({k: v.value for k, v in mat.metadata.items() if "/" in k and "dagster" not in k})
            rc = mat.metadata.get("dagster/row_count")
            if rc is not None:
                row_counts[mat.asset_key.to_user_string()] = int(rc.value)
        elif event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            ev = event.event_specific_data
            if ev.passed:
                passed += 1
            else:
                failed_checks.append((f"{ev.asset_key.to_user_string()}:{ev.check_name}", ev.severity.value))
    steps_failed = [e.step_key for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    blocking_failed = any(sev == "ERROR" for _, sev in failed_checks)
    return {
        "ok": result.success and not steps_failed and not blocking_failed,
        "materialized": materialized, "row_counts": row_counts, "checks_passed": passed,
        "checks_failed": failed_checks, "steps_failed": steps_failed, "headline": headline,
    }
