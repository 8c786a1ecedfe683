"""What Spark would do with each dbt model on a cluster: its physical plan, read for the shapes that
do not scale out (docs/scale-out.md, "The models' plans on a cluster").

After a `CENSUS_ENGINE=spark census run`, this starts a Spark session on the same run directory
(its metastore knows the tables; Spark in this process, `local[1]`) and EXPLAINs the compiled SQL
of every model of the run's two dbt builds (dbt_project/target/census_*_models-<run>-*/compiled):
nothing is executed. Per model it counts:

- rows gathered into one task: `Exchange SinglePartition` whose input is not a partial aggregate
  (a global total's partial sums going to one task is harmless; un-aggregated rows are not);
- nested-loop joins (`BroadcastNestedLoopJoin`, `CartesianProduct`), with the first operator of
  the broadcast side, to tell a one-row total from a relation that grows with the census;
- evaluations of the two Python functions (`BatchEvalPython`): each ships rows to Python workers,
  and a CTE that Spark inlines into several readers is evaluated once per reader.

With `--linkage`, the register linkage (lib/linkage.link_residue: Splink's SQL and ours) is run
again on the run's tables in that session and every query it sends is read the same way before it
runs: those queries are built at run time, so they have no compiled file.

    .venv/bin/python bench/spark_plans.py --spark-dir DIR --run RUN_ID_PREFIX [--verbose] [--linkage]
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGET = HERE.parent / "dbt_project" / "target"


def findings(plan: str) -> dict[str, list[str]]:
    """The plan's shapes that do not scale out, each with the operator that feeds it."""
    lines = plan.splitlines()
    out: dict[str, list[str]] = {"one task": [], "nested loop": [], "python": []}
    for i, line in enumerate(lines):
        if "Exchange SinglePartition" in line:
            child = lines[i + 1].strip(" :+-") if i + 1 < len(lines) else ""
            if not re.match(r"(Hash|Sort|ObjectHash)Aggregate\(keys?=\[\], functions=\[partial_", child):
                out["one task"].append(child[:120])
        elif re.search(r"BroadcastNestedLoopJoin|CartesianProduct", line):
            out["nested loop"].append(_build_side(lines, i)[:120])
        elif "BatchEvalPython" in line or "ArrowEvalPython" in line:
            out["python"].append(line.strip(" :+-")[:60])
    return out


def _build_side(lines: list[str], i: int) -> str:
    """The first operator of a nested-loop join's broadcast child: the second for BuildRight (and a
    CartesianProduct's), the first for BuildLeft."""
    indent = len(lines[i]) - len(lines[i].lstrip(" :+-"))
    children = [j for j in range(i + 1, len(lines))
                if len(lines[j]) - len(lines[j].lstrip(" :+-")) == indent + 3 and lines[j].lstrip(" ").startswith(("+-", ":-"))]
    if not children:
        return lines[i].strip(" :+-")
    side = children[0] if "BuildLeft" in lines[i] or len(children) == 1 else children[1]
    return lines[side].strip(" :+-")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spark-dir", required=True, type=Path, help="the run's CENSUS_SPARK_DIR")
    parser.add_argument("--run", required=True, help="the Dagster run id (its first 7 characters suffice)")
    parser.add_argument("--verbose", action="store_true", help="print what feeds each finding")
    parser.add_argument("--linkage", action="store_true", help="also run the register linkage and read its queries")
    args = parser.parse_args(argv)
    folders = sorted(TARGET.glob(f"census_*_models-{args.run[:7]}-*/compiled"))
    if not folders:
        print(f"no dbt build of run {args.run} under {TARGET}", file=sys.stderr)
        return 2

    from census_pipeline.lib.engine import engine_settings
    from census_pipeline.spark_dbt import start_session

    settings = engine_settings({"CENSUS_ENGINE": "spark", "CENSUS_SPARK_DIR": str(args.spark_dir.absolute()),
                                "CENSUS_SPARK_MASTER": "local[1]"}, args.spark_dir / "unused.duckdb")
    spark = start_session(settings)
    try:
        print(f"{'model':34} {'rows to one task':>16} {'nested-loop joins':>18} {'Python evaluations':>19}")
        for path in sorted(p for folder in folders for p in folder.rglob("*.sql") if "/models/" in str(p)):
            plan = spark.sql("explain " + path.read_text(encoding="utf-8")).collect()[0][0]
            found = findings(plan)
            if any(found.values()):
                print(f"{path.stem:34} {len(found['one task']):>16} {len(found['nested loop']):>18} "
                      f"{len(found['python']):>19}")
                if args.verbose:
                    print_feeding(found)
        if args.linkage:
            linkage_plans(spark, args.verbose)
    finally:
        spark.stop()
    return 0


def print_feeding(found: dict[str, list[str]]) -> None:
    """What feeds each finding of a plan (--verbose), once per kind and operator."""
    for kind in ("one task", "nested loop"):
        for what in sorted(set(found[kind])):
            print(f"    {kind}: {what}")


def linkage_plans(spark, verbose: bool) -> None:
    """The register linkage run on the run's tables, each query it sends through the session read
    before it runs (a query Spark cannot explain, a command, is counted and left)."""
    from census_pipeline.lib.linkage import link_residue

    sql = spark.sql
    read: list[tuple[str, dict[str, list[str]]]] = []

    def reading(query: str, *more, **named):
        head = " ".join(query.split())[:70]
        if re.match(r"\s*(with|select)\b", query, re.I):
            read.append((head, findings(sql("explain " + query).collect()[0][0])))
        return sql(query, *more, **named)

    spark.sql = reading  # Splink's SparkAPI and lib/linkage.py both query through the session
    try:
        names = ("register", "census", "register_residue", "census_residue", "id_links")
        result, stats = link_residue(spark, {n: f"intermediate.int_linkage_{n}" for n in names})
    finally:
        del spark.sql
    spark.catalog.dropTempView(result)
    flagged = [(head, f) for head, f in read if f["one task"] or f["nested loop"]]
    print(f"\nthe register linkage: {len(read)} queries read, {stats.get('candidate_pairs', 0):,} candidate pairs; "
          f"{len(flagged)} with rows in one task or a nested-loop join")
    for head, found in flagged:
        print(f"  {len(found['one task'])} to one task, {len(found['nested loop'])} nested-loop: {head}")
        if verbose:
            print_feeding(found)


if __name__ == "__main__":
    sys.exit(main())
