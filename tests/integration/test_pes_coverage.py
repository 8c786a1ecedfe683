"""Do the PES's 95% intervals deserve the name? Twenty small generated censuses, each with its
own PES: the interval must cover the planted net omission rate in at least 18 of 20.

Each census runs the real ingestion and the real dbt models up to quality.pes_estimates (seeds
and models only, no Dagster run and no dbt tests: the shared materialization tests those), so
twenty fit in the suite's time."""

import os
import statistics
import subprocess

import duckdb

from census_pipeline.defs.microdata.project import DBT_DIR, dbt_executable
from census_pipeline.lib.generator import Rates, generate
from tests.integration.test_ingestion import run_ingest

SEEDS = range(101, 121)
HOUSEHOLDS = 1000


def estimate(seed: int, folder) -> tuple[dict, float]:
    landing, warehouse = folder / f"census-{seed}", folder / f"census-{seed}.duckdb"
    truth = generate(landing, HOUSEHOLDS, seed, rates=Rates(pes_ea_fraction=0.3))
    run_ingest(landing, warehouse).close()
    env = dict(os.environ, CENSUS_WAREHOUSE=str(warehouse))
    subprocess.run([dbt_executable(), "build", "--quiet", "--select", "+pes_estimates",
                    "--exclude", "test_type:data", "test_type:unit", "--project-dir", str(DBT_DIR),
                    "--profiles-dir", str(DBT_DIR)], check=True, env=env, cwd=DBT_DIR)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        cur = con.execute("select * from quality.pes_estimates where level = 'city'")
        row = dict(zip([d[0] for d in cur.description], cur.fetchone(), strict=True))
    return row, truth["pes"]["net_omission_rate_pct"]


def test_95pct_intervals_cover_the_planted_rate_in_at_least_18_of_20_censuses(tmp_path):
    results = [estimate(seed, tmp_path) for seed in SEEDS]
    covered = [est["ci_low_pct"] <= planted <= est["ci_high_pct"] for est, planted in results]
    errors = [est["net_omission_pct"] - planted for est, planted in results]
    report = [(round(est["net_omission_pct"], 3), planted, est["ci_low_pct"], est["ci_high_pct"]) for est, planted in results]
    assert sum(covered) >= 18, report
    assert abs(statistics.mean(errors)) <= 0.1, report  # no bias beyond a tenth of a point on average
    assert all(est["ci_high_pct"] - est["ci_low_pct"] > 0 for est, _ in results)
