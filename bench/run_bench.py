"""Benchmark: generate N persons, run each stage, record wall time and peak memory.

    .venv/bin/python bench/run_bench.py --persons 100000

Each stage runs in its own process (`/usr/bin/time -v`), so peak memory is that stage's own.
Results go to bench/results/<persons>.json; the figures worth keeping go in bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

PERSONS_PER_HOUSEHOLD = 2.45  # generated persons (all lines) per household, measured


def timed(cmd: list[str], env: dict) -> dict:
    out = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, env=env)
    if out.returncode != 0:
        sys.stderr.write(out.stdout[-2000:] + out.stderr[-4000:])
        raise SystemExit(f"stage failed: {' '.join(cmd)}")
    wall = re.search(r"Elapsed \(wall clock\) time .*: (?:(\d+):)?(\d+):([\d.]+)", out.stderr)
    h, m, s = (float(x) if x else 0.0 for x in wall.groups())
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", out.stderr).group(1))
    return {"wall_s": round(h * 3600 + m * 60 + s, 1), "peak_rss_mib": round(rss / 1024)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--persons", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workdir", help="keep the data here (default: a temporary folder)")
    args = ap.parse_args()
    bin_dir = Path(sys.executable).parent
    work = Path(args.workdir or tempfile.mkdtemp(prefix="census-bench-"))
    landing = work / "landing"
    env = dict(os.environ, CENSUS_LANDING_DIR=str(landing), CENSUS_WAREHOUSE=str(work / "warehouse.duckdb"),
               CENSUS_OUTPUT_DIR=str(work / "output"), CENSUS_LOG_LEVEL="WARNING",
               PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    env.pop("DAGSTER_HOME", None)
    households = int(args.persons / PERSONS_PER_HOUSEHOLD)
    results = {"persons_requested": args.persons, "households": households, "stages": {}}
    results["stages"]["generate"] = timed([str(bin_dir / "census"), "generate", "--households", str(households),
                                           "--seed", str(args.seed), "--out", str(landing), "--quiet"], env)
    stages = {"ingestion": "group:ingestion", "microdata (dbt)": "group:microdata",
              # linkage feeds the follow-up list and the linkage gate reads quality.coverage: one stage
              "linkage, quality and coverage survey (dbt, Splink x2, GX gates, reports)":
                  "group:linkage or group:quality or group:coverage_survey",
              "bulletin (dbt) and publication": "group:publication"}
    for name, selection in stages.items():
        results["stages"][name] = timed([str(bin_dir / "census"), "run", "--select", selection], env)
    results["stages"]["re-run ingestion (no new files)"] = timed(
        [str(bin_dir / "census"), "run", "--select", "group:ingestion"], env)
    # probabilistic linkage alone (Splink on the residue, inside a one-model dbt build)
    results["stages"]["linkage: Splink model alone"] = timed(
        [str(bin_dir / "census"), "run", "--select", "key:intermediate/int_linkage_probabilistic"], env)
    results["stages"]["coverage survey: PES matching (Splink) alone"] = timed(
        [str(bin_dir / "census"), "run", "--select", "key:intermediate/int_pes_probabilistic"], env)
    results["stages"]["coverage survey: DSE and jackknife alone"] = timed(
        [str(bin_dir / "census"), "run", "--select", "key:quality/pes_estimates"], env)
    import duckdb

    with duckdb.connect(str(work / "warehouse.duckdb"), read_only=True) as con:
        results["linkage"] = {
            "register_records": con.sql("select count(*) from intermediate.int_linkage_register").fetchall()[0][0],
            "census_records": con.sql("select count(*) from intermediate.int_linkage_census").fetchall()[0][0],
            "register_residue": con.sql("select count(*) from intermediate.int_linkage_register_residue"
                                        ).fetchall()[0][0],
            "census_residue": con.sql("select count(*) from intermediate.int_linkage_census_residue").fetchall()[0][0],
            "quality": [[str(v) for v in r] for r in con.sql(
                "select scope, links, true_pairs, true_links, precision_pct, recall_pct, f1_pct "
                "from linkage.linkage_quality order by scope_order").fetchall()],
        }
        results["pes"] = {
            "estimate_city": [str(v) for v in con.sql(
                "select census_count, p_sample_persons, p_sample_matched, dse, net_omission_pct, ci_low_pct, "
                "ci_high_pct, jackknife_replicates from quality.pes_estimates where level = 'city'").fetchall()[0]],
            "sampled_eas": con.sql("select count(distinct ea_code) from raw.pes_submissions").fetchall()[0][0],
        }
    truth = json.loads(Path(str(landing) + ".truth.json").read_text())
    results["resident_population"] = truth["city"]["population"]
    results["pes_truth_net_omission_pct"] = truth["pes"]["net_omission_rate_pct"]
    results["lines"] = truth["totals"]["lines_received"]
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / f"{args.persons}.json").write_text(json.dumps(results, indent=1))
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
