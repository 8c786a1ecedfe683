"""Benchmark: one whole `census run` on a generated census, as a user runs it, measured.

    .venv/bin/python bench/run_bench.py --persons 1000000 --workdir /data/bench/1m
    .venv/bin/python bench/run_bench.py --persons 12000000 --workdir /data/bench/12m --skip-references

The landing zone is generated once into --workdir/landing and reused by later runs (at 12 M it
is ~7 GB: keep --workdir outside the repository). Each run starts from an empty warehouse.

Recorded (bench/results/<persons>.json, and a summary printed as Markdown):
- the generator (when it ran): wall, CPU, peak memory;
- `census run`: wall, CPU (user + system of the processes it waited for) and the peak memory of
  the whole process tree (the sum of the resident sets of `census` and every process under it —
  dbt, its Python models, Spark's JVM — sampled every 0.2 s from /proc); the same samples give
  the tree's CPU with the processes nobody waits for (Spark's JVM) and the cores it kept busy;
- per Dagster step: wall (from the run's event log);
- per dbt node: seconds (from each dbt invocation's run_results.json);
- the references on the same landing zone (bench/reference_python.py: a plain-Python script of
  b1-b7; bench/reference_duckdb.py: bare DuckDB SQL, the counting path), and the ratios issue 16
  asks for; with --pairs N, N (run, script) pairs in all, one after the other, and the median of
  their ratios (the machine's speed drifts: a ratio is read within a pair);
- the machine's load before the run (figures on a busy machine are inflated).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

from census_pipeline.lib.truth_files import truth_path_for

HERE = Path(__file__).resolve().parent
PERSONS_PER_HOUSEHOLD = 2.38  # counted residents per listed household in the generated census (measured)
PAGE = os.sysconf("SC_PAGE_SIZE")


TICK = os.sysconf("SC_CLK_TCK")


def _processes() -> tuple[dict[int, list[int]], dict[int, int]]:
    """Every process's children, and the CPU ticks (user + system) each has used so far."""
    kids: dict[int, list[int]] = {}
    ticks: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(b")") + 2:].split()  # from the state, field 3 of proc(5)
        kids.setdefault(int(fields[1]), []).append(int(entry))
        ticks[int(entry)] = int(fields[11]) + int(fields[12])  # utime, stime
    return kids, ticks


def tree_now(root: int) -> tuple[int, dict[int, int]]:
    """Bytes resident in `root` and all its descendants now, and each one's CPU ticks so far."""
    (kids, ticks), total, cpu, todo = _processes(), 0, {}, [root]
    while todo:
        pid = todo.pop()
        try:
            with open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1]) * PAGE
        except OSError:
            pass
        if pid in ticks:
            cpu[pid] = ticks[pid]
        todo.extend(kids.get(pid, []))
    return total, cpu


def measured(cmd: list[str], env: dict, log: Path) -> dict:
    """Run `cmd`; wall, CPU of the whole tree, peak memory of the whole tree."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
        peak = [0]
        seen: dict[int, int] = {}  # CPU ticks of every process of the tree, as last sampled

        def sample() -> None:
            while proc.poll() is None:
                rss, cpu = tree_now(proc.pid)
                peak[0] = max(peak[0], rss)
                seen.update(cpu)
                time.sleep(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        code = proc.wait()
        sampler.join()
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if code != 0:
        sys.stderr.write(log.read_text(errors="replace")[-3000:])
        raise SystemExit(f"failed ({code}): {' '.join(cmd)}; log {log}")
    # The CPU of the processes `cmd` waited for (getrusage) misses a process nobody waits for:
    # Spark's JVM, which pyspark kills at the end. The sampled figure has it (and misses what a
    # process used after its last sample, and processes shorter than a sample).
    sampled = sum(seen.values()) / TICK
    return {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "cpu_sampled_s": round(sampled, 1),
            "cores_busy": round(sampled / wall, 2), "peak_tree_mib": round(peak[0] / 2**20)}


@contextlib.contextmanager
def connect_server(folder: Path, env: dict):
    """A Spark Connect server (census_pipeline.spark_connect) with a token of its own, for the run
    whose `env` gets its URL and token; its process tree's peak memory sampled; stopped after."""
    import secrets

    from census_pipeline.spark_connect import running

    folder.mkdir(parents=True)
    token = secrets.token_hex(16)
    with running(folder, token) as server:
        state = SimpleNamespace(peak=0)

        def sample() -> None:
            while server.process.poll() is None:
                state.peak = max(state.peak, tree_now(server.process.pid)[0])
                time.sleep(0.2)

        threading.Thread(target=sample, daemon=True).start()
        env.update(CENSUS_SPARK_REMOTE=server.url, SPARK_CONNECT_AUTHENTICATE_TOKEN=token)
        yield state


def census_run(work: Path, env: dict, bin_dir: Path, engine: str) -> dict:
    """One `census run` from nothing but the landing zone (a new warehouse, outputs and Dagster
    instance), measured."""
    logs = work / "logs"
    for stale in ("warehouse.duckdb", "warehouse.duckdb.wal"):
        (work / stale).unlink(missing_ok=True)
    subprocess.run(["rm", "-rf", str(work / "output"), str(work / "dagster_home"), str(work / "warehouse.duckdb.tmp")],
                   check=True)
    (work / "dagster_home").mkdir()
    (logs / "linkage_stats.jsonl").unlink(missing_ok=True)
    with connect_server(work / "spark-connect", env) if engine == "spark-connect" else contextlib.nullcontext() \
            as server:
        run = measured([str(bin_dir / "census"), "run"], env, logs / "census_run.log")
    if server is not None:  # the server's JVM is not in the run's process tree
        run["server_peak_tree_mib"] = round(server.peak / 2**20)
    return run


def more_pairs(results: dict, n: int, run: Callable[[], dict], script: Callable[[], dict]) -> None:
    """`n` more pairs of the run and the plain-Python script, one after the other (the machine's
    speed drifts by the hour here: 1 M runs of the same code took 48.8-65.8 s in one morning), and
    the ratio of each pair with their median beside the first pair's."""
    pairs = [(results["census_run"]["wall_s"], results["reference_python"]["wall_s"])]
    for _ in range(n):
        pairs.append((run()["wall_s"], script()["wall_s"]))
    results["pairs"] = [{"run_wall_s": r, "script_wall_s": p, "ratio": round(r / p, 2)} for r, p in pairs]
    results["ratio_run_to_python_reference_median"] = statistics.median(x["ratio"] for x in results["pairs"])


def step_timings(dagster_home: Path) -> tuple[str, dict[str, float]]:
    """The newest run in the instance: its id and seconds per Dagster step."""
    import dagster as dg

    os.environ["DAGSTER_HOME"] = str(dagster_home)
    with dg.DagsterInstance.get() as instance:
        run = instance.get_runs(limit=1)[0]
        stats = instance.get_run_step_stats(run.run_id)
    return run.run_id, {s.step_key: round(s.end_time - s.start_time, 1) for s in stats if s.end_time and s.start_time}


def dbt_node_timings(run_id: str) -> dict[str, dict[str, float]]:
    """Seconds per dbt node of the run's dbt invocations (each in a folder of its own)."""
    from census_pipeline.defs.dbt import invocation_folders

    nodes: dict[str, dict[str, float]] = {}
    for results in (f / "run_results.json" for f in invocation_folders(run_id) if (f / "run_results.json").exists()):
        data = json.loads(results.read_text())
        per = {r["unique_id"].split(".", 2)[-1]: round(r["execution_time"], 2) for r in data["results"]}
        asset = results.parent.name.split("-")[0]  # an asset may have more than one folder (a build, a retry)
        merged = {**nodes.get(asset, {}), **per}
        nodes[asset] = dict(sorted(merged.items(), key=lambda kv: -kv[1]))
    return nodes


def against_truth(work: Path, truth: dict) -> dict:
    """The run's results against the generator's truth: every cell of the published b1-b8 (the
    expectation computed from the truth counts as the test suite computes it), the linkage
    precision and recall, and whether the coverage survey's interval covers the planted rate."""
    import csv
    from decimal import Decimal

    import duckdb

    sys.path.insert(0, str(HERE.parent))
    from tests.bulletin_truth import expected_tables

    expected, cells, differing = expected_tables(truth), 0, []
    for i, path in enumerate(sorted((work / "output" / "bulletin").glob("b[1-8]_*.csv")), start=1):
        with open(path, encoding="utf-8-sig", newline="") as f:
            rows = {r["region_code"]: r for r in csv.DictReader(f)}
        want = expected[f"b{i}"]
        for code in sorted(set(rows) | set(want)):
            for col, value in want.get(code, {}).items():
                got = rows.get(code, {}).get(col)
                same = (got == "" if value is None else
                        got is not None and got != "" and Decimal(got) == value if isinstance(value, Decimal) else
                        got == str(value))
                cells += 1
                if not same:
                    differing.append([path.stem, code, col, got, None if value is None else str(value)])
            if code not in want:
                differing.append([path.stem, code, "(row)", "published", "not in the truth"])
    out = {"bulletin_cells": cells, "bulletin_cells_differing": len(differing), "differing": differing[:50]}
    with duckdb.connect(str(work / "warehouse.duckdb"), read_only=True) as con:
        out["linkage"] = [dict(zip(("scope", "precision_pct", "recall_pct", "false_links"),
                                   (r[0], *(None if v is None else float(v) for v in r[1:])), strict=True)) for r in con.execute(
            "select scope, precision_pct, recall_pct, false_links from linkage.linkage_quality order by scope_order"
        ).fetchall()]
        cur = con.execute("select * from quality.pes_estimates where level = 'city'")
        pes = dict(zip([d[0] for d in cur.description], cur.fetchone(), strict=True))
    planted = truth["pes"]["net_omission_rate_pct"]
    out["pes"] = {"planted_net_omission_pct": planted,
                  **{k: float(pes[k]) for k in ("net_omission_pct", "ci_low_pct", "ci_high_pct")},
                  "interval_covers_planted": float(pes["ci_low_pct"]) <= planted <= float(pes["ci_high_pct"])}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--persons", type=int, default=1_000_000, help="counted residents wanted (default 1,000,000)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workdir", required=True, help="where the landing zone (reused), warehouse and outputs go")
    ap.add_argument("--workers", type=int, default=2, help="generator worker processes")
    ap.add_argument("--skip-references", action="store_true", help="do not run the two reference scripts")
    ap.add_argument("--pairs", type=int, default=1,
                    help="with the references: this many (run, plain-Python script) pairs in all, one after the "
                         "other, and the median of their ratios (the first pair's run is the one measured in full)")
    ap.add_argument("--engine", choices=("duckdb", "spark", "spark-connect"), default="duckdb",
                    help="CENSUS_ENGINE of the run (spark: its run directory is WORKDIR/spark, emptied first; "
                         "spark-connect: the same through a Spark Connect server started in WORKDIR/spark-connect "
                         "and stopped after; results in bench/results/<persons>-<engine>.json)")
    args = ap.parse_args()

    bin_dir = Path(sys.executable).parent
    work = Path(args.workdir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    landing, logs = work / "landing", work / "logs"
    logs.mkdir(exist_ok=True)
    env = dict(os.environ, CENSUS_LANDING_DIR=str(landing), CENSUS_WAREHOUSE=str(work / "warehouse.duckdb"),
               CENSUS_OUTPUT_DIR=str(work / "output"), DAGSTER_HOME=str(work / "dagster_home"),
               CENSUS_LOG_LEVEL="INFO", CENSUS_GENERATE_WORKERS=str(args.workers),
               CENSUS_LINKAGE_STATS=str(logs / "linkage_stats.jsonl"),
               PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    env.setdefault("CENSUS_PSEUDONYM_KEY", "benchmark-key-not-for-real-data")
    env["CENSUS_ENGINE"] = "duckdb" if args.engine == "duckdb" else "spark"
    if args.engine != "duckdb":  # a run directory of the run's own: metastore, Spark's warehouse, raw zone
        env["CENSUS_SPARK_DIR"] = str(work / "spark")
        subprocess.run(["rm", "-rf", env["CENSUS_SPARK_DIR"], str(work / "spark-connect")], check=True)
    results: dict = {"persons_requested": args.persons, "engine": args.engine, "load_before": os.getloadavg(),
                     "stages": {}}

    households = round(args.persons / PERSONS_PER_HOUSEHOLD)
    if not (landing / "uploads").is_dir():
        results["generate"] = measured([str(bin_dir / "census"), "generate", "--households", str(households),
                                        "--seed", str(args.seed), "--out", str(landing), "--quiet"],
                                       env, logs / "generate.log")
    results["census_run"] = census_run(work, env, bin_dir, args.engine)
    run_id, results["steps_s"] = step_timings(work / "dagster_home")
    results["dbt_nodes_s"] = dbt_node_timings(run_id)
    stats_file = logs / "linkage_stats.jsonl"  # the two Splink linkages, part by part (counts and seconds)
    results["linkage"] = [json.loads(x) for x in stats_file.read_text().splitlines()] if stats_file.exists() else []

    def reference(name: str) -> dict:
        return measured([sys.executable, str(HERE / f"{name}.py"), "--landing", str(landing)], env, logs / f"{name}.log")

    if not args.skip_references:
        for name in ("reference_python", "reference_duckdb"):
            if (HERE / f"{name}.py").exists():
                results[name] = reference(name)
    truth = json.loads(truth_path_for(landing).read_text())
    results["resident_population_truth"] = truth["city"]["population"]
    results["lines_received"] = truth["totals"]["lines_received"]
    results["against_truth"] = against_truth(work, truth)
    run = results["census_run"]
    if "reference_python" in results:
        results["ratio_run_to_python_reference"] = round(run["wall_s"] / results["reference_python"]["wall_s"], 2)
    if "reference_duckdb" in results:
        bulletin_path = sum(s for k, s in results["steps_s"].items()
                            if k.startswith(("raw__", "upload", "frame", "census_microdata", "census_bulletin")))
        results["bulletin_path_s"] = round(bulletin_path, 1)
        results["ratio_bulletin_path_to_duckdb_floor"] = round(bulletin_path / results["reference_duckdb"]["wall_s"], 2)
    if "reference_python" in results and args.pairs > 1:  # the first run's warehouse is read above: now free
        more_pairs(results, args.pairs - 1, lambda: census_run(work, env, bin_dir, args.engine),
                   lambda: reference("reference_python"))
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    name = f"{args.persons}{'' if args.engine == 'duckdb' else '-' + args.engine}.json"
    (out / name).write_text(json.dumps(results, indent=1, ensure_ascii=False))
    print(summary(results))


def summary(r: dict) -> str:
    lines = [f"engine {r.get('engine', 'duckdb')}; "
             f"persons requested {r['persons_requested']:,}; resident (truth) {r['resident_population_truth']:,}; "
             f"input lines {r['lines_received']:,}; load before {r['load_before'][0]:.2f}", "",
             "| work | wall | CPU (waited for) | CPU (sampled: with a JVM) | cores busy | peak memory (process tree) |",
             "| --- | --- | --- | --- | --- | --- |"]
    for key in ("generate", "census_run", "reference_python", "reference_duckdb"):
        if key in r:
            m = r[key]
            lines.append(f"| {key} | {m['wall_s']} s | {m['cpu_s']} s | {m.get('cpu_sampled_s', '')} s | "
                         f"{m.get('cores_busy', '')} | {m['peak_tree_mib']:,} MiB |")
    lines += ["", "| Dagster step | wall |", "| --- | --- |"]
    lines += [f"| {k} | {v} s |" for k, v in sorted(r["steps_s"].items(), key=lambda kv: -kv[1])]
    for invocation, nodes in r["dbt_nodes_s"].items():
        lines += ["", f"slowest dbt nodes of {invocation}: "
                  + ", ".join(f"{k} {v} s" for k, v in list(nodes.items())[:10])]
    for link in r.get("linkage", []):
        lines.append(f"linkage of {link['tables']}: {link.get('seconds')} s, by part {link.get('seconds_by_part')}, "
                     f"comparisons by rule {link.get('comparisons_by_rule')}, candidates {link.get('candidate_pairs')}")
    t = r.get("against_truth")
    if t:
        lines.append(f"bulletin b1-b8 against the truth: {t['bulletin_cells_differing']} of {t['bulletin_cells']:,} "
                     f"cells differ {t['differing'][:5] if t['differing'] else ''}")
        lines += [f"linkage {x['scope']}: precision {x['precision_pct']} %, recall {x['recall_pct']} %, "
                  f"false links {x['false_links']}" for x in t["linkage"]]
        lines.append(f"coverage survey (city): {t['pes']}")
    if "pairs" in r:
        lines.append("(run, script) pairs, one after the other: " + ", ".join(
            f"{x['run_wall_s']} / {x['script_wall_s']} s = {x['ratio']}" for x in r["pairs"]))
    for k in ("ratio_run_to_python_reference", "ratio_run_to_python_reference_median", "bulletin_path_s",
              "ratio_bulletin_path_to_duckdb_floor"):
        if k in r:
            lines.append(f"{k}: {r[k]}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
