"""`census`: generate a demo census, prepare the project, materialize every asset.

    census generate --households 20000 --seed 2020 --out data/landing
    census run [--demo]         # every asset, in dependency order, through Dagster
    census ui [--demo]          # the Dagster UI, under the same rules
    census prepare              # parse the dbt project once (Dagster reads its manifest)
    census explain b1 330100 population   # what one published cell rests on (counts only)
    census ingest-by-county [--county 330106]   # upload batches county by county (the province path)

Locations come from CENSUS_LANDING_DIR, CENSUS_WAREHOUSE and CENSUS_OUTPUT_DIR; unset, they
default to the project's data folder (data/landing, data/warehouse.duckdb, data/output).
CENSUS_PSEUDONYM_KEY is the secret key of the pseudonyms in the microdata: a run refuses to start
without it. Only the generated demo census may run on the built-in (public) development key, and
only when asked to: `census run --demo` or CENSUS_DEMO=1 (what `make run` does).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path

from census_pipeline.lib.codes import DEFAULT_LOCATIONS, PROJECT_ROOT

# What Ctrl-C during `census run` prints (exit code 130). True because every stage writes all or
# nothing (one transaction, or write-then-swap) and the bulletin is published by a swap
INTERRUPTED = "interrupted: the run was stopped; rerun `census run` to finish — nothing half-written is kept"


def apply_default_locations() -> dict[str, str]:
    """Fill the three location variables with the data-folder defaults where unset."""
    for name, default in DEFAULT_LOCATIONS.items():
        os.environ.setdefault(name, str(default))
    return {name: os.environ[name] for name in DEFAULT_LOCATIONS}


def demo_requested(flag: bool = False) -> bool:
    from census_pipeline.dbt_plugin import demo_enabled

    return flag or demo_enabled()


def is_generated_demo(landing: Path) -> bool:
    """A landing zone `census generate` wrote: its truth file lies beside it."""
    from census_pipeline.lib.truth_files import truth_path_for

    return truth_path_for(landing).exists()


def settle_pseudonym_key(landing: Path, demo: bool) -> str | None:
    """Fail closed: None when the run may start (the key is in the environment), else the one line
    that says what to set. The public development key is used only for the generated demo, only
    when asked for (`demo`), and says so."""
    from census_pipeline.dbt_plugin import DEV_KEY

    key = os.environ.get("CENSUS_PSEUDONYM_KEY", "")
    if key and key != DEV_KEY:
        return None
    fix = "set CENSUS_PSEUDONYM_KEY to a secret key (e.g. export CENSUS_PSEUDONYM_KEY=$(openssl rand -hex 32))"
    if not demo:
        what = "is the built-in development key, which is public" if key else "is not set"
        return f"census run: CENSUS_PSEUDONYM_KEY {what}: {fix}, or add --demo to run the generated demo census"
    if not is_generated_demo(landing):
        return (f"census run: --demo uses the public development key and is only for a census made by "
                f"`census generate` ({landing} has no truth file beside it): {fix}")
    os.environ["CENSUS_PSEUDONYM_KEY"] = DEV_KEY
    os.environ["CENSUS_DEMO"] = "1"  # dbt's plugin accepts the development key only then
    print("census: DEMO RUN with the built-in DEVELOPMENT pseudonym key: pseudonyms are not secret "
          "(fine for the generated demo, never for real data)", file=sys.stderr, flush=True)
    return None


def cmd_generate(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from census_demo import Rates, generate
    from census_pipeline.lib.truth_files import truth_path_for

    out = Path(args.out)
    truth = Path(args.truth) if args.truth else truth_path_for(out)
    rates = Rates()
    for item in args.rate or []:
        name, _, value = item.partition("=")
        if not hasattr(rates, name):
            print(f"census generate: unknown rate {name!r}; known: {', '.join(vars(rates))}", file=sys.stderr)
            return 2
        setattr(rates, name, float(value))
    started = time.perf_counter()
    try:
        with tqdm(total=args.households, unit="hh", desc="generating households", disable=args.quiet) as bar:
            result = generate(out, args.households, args.seed, truth, rates, progress=bar.update,
                              pes_seed=args.pes_seed, workers=args.workers)
    except FileExistsError as e:
        print(f"census generate: {e}", file=sys.stderr)
        return 2
    city = result["city"]
    print(
        f"wrote {result['totals']['files']} files ({result['totals']['lines_received']:,} lines) to {out} "
        f"in {time.perf_counter() - started:.1f} s\n"
        f"  resident population (truth): {city.get('population', 0):,} "
        f"in {city.get('family_households', 0):,} family and {city.get('collective_households', 0):,} collective households\n"
        f"  truth: {truth}"
    )
    return 0


def cmd_prepare(args: argparse.Namespace) -> int:
    from census_pipeline.defs.dbt import prepare_manifest

    path = prepare_manifest(force=args.force)
    print(f"dbt manifest ready: {path}")
    return 0


def engine_refusal(warehouse: str) -> str | None:
    """Why a run must not start on the engine CENSUS_ENGINE names, or None: an engine it does not
    know, Spark in this process without the Java it starts, or a Spark Connect server without the
    client's packages."""
    from census_pipeline.defs.spark_engine import java_missing
    from census_pipeline.lib.engine import engine_settings

    try:
        settings = engine_settings(os.environ, warehouse)
    except ValueError as e:
        return str(e)
    if not settings.on_spark:
        return None
    if settings.spark_remote:
        from census_pipeline.defs.spark_engine import connect_client_missing

        return connect_client_missing()
    return java_missing()


def check_can_start(args: argparse.Namespace, command: str = "run") -> tuple[dict[str, str] | None, int]:
    """The locations when a run may start; else (None, 2) after one line on stderr."""
    locations = apply_default_locations()
    engine_problem = engine_refusal(locations["CENSUS_WAREHOUSE"])
    if engine_problem:
        print(f"census {command}: {engine_problem}", file=sys.stderr)
        return None, 2
    landing = Path(locations["CENSUS_LANDING_DIR"])
    if not landing.is_dir():
        print(f"census {command}: the landing zone {landing} does not exist: set CENSUS_LANDING_DIR to the folder "
              "holding frame/, uploads/ and admin/ (or `make generate` for the demo)", file=sys.stderr)
        return None, 2
    problem = settle_pseudonym_key(landing, demo_requested(args.demo))
    if problem:
        print(problem.replace("census run:", f"census {command}:"), file=sys.stderr)
        return None, 2
    return locations, 0


@contextlib.contextmanager
def _children_quiet_if_interrupted():
    """Hold what this process and its children (`dbt parse`) write to stdout and stderr, and pass it
    on unless Ctrl-C stopped them: Ctrl-C reaches every process of the terminal's group, and dbt
    answers it with a stack trace of its own (on stdout)."""
    sys.stdout.flush()
    sys.stderr.flush()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        saved = {fd: os.dup(fd) for fd in (1, 2)}
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        interrupted = False
        try:
            yield
        except KeyboardInterrupt:
            interrupted = True
            raise
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            for fd, held in ((1, out), (2, err)):
                os.dup2(saved[fd], fd)
                os.close(saved[fd])
                held.seek(0)
                data = b"" if interrupted else held.read()
                while data:
                    data = data[os.write(fd, data):]


def cmd_run(args: argparse.Namespace) -> int:
    locations, code = check_can_start(args)
    if locations is None:
        return code
    from census_pipeline.defs.dbt import prepare_manifest

    with _children_quiet_if_interrupted():
        prepare_manifest()
    from census_pipeline.runner import materialize_all

    return materialize_all(locations, selection=args.select)


def cmd_ingest_by_county(args: argparse.Namespace) -> int:
    locations = apply_default_locations()
    if not Path(locations["CENSUS_LANDING_DIR"]).is_dir():
        print(f"census ingest-by-county: the landing zone {locations['CENSUS_LANDING_DIR']} does not exist: set "
              "CENSUS_LANDING_DIR", file=sys.stderr)
        return 2
    from census_pipeline.defs.dbt import prepare_manifest

    with _children_quiet_if_interrupted():
        prepare_manifest()  # (the project's definitions, this job's among them, load the dbt manifest)
    from census_pipeline.runner import ingest_by_county

    started = time.perf_counter()
    result = ingest_by_county(args.county)
    counties = sorted(e.step_key.split("[", 1)[1].rstrip("]") for e in result.all_events
                      if e.is_step_success and e.step_key.startswith("ingest_county["))
    failed = sorted(e.step_key for e in result.all_events if e.is_step_failure)
    print(f"census ingest-by-county {'succeeded' if result.success else 'FAILED'} in "
          f"{time.perf_counter() - started:.0f} s (run {result.run_id[:8]}): {len(counties)} counties ingested"
          + (f" ({', '.join(counties)})" if counties else "")
          + (f"; failed: {', '.join(failed)}" if failed else ""))
    print(f"  warehouse: {locations['CENSUS_WAREHOUSE']}  (`census run` merges any county left and goes on)")
    return 0 if result.success else 1


def cmd_ui(args: argparse.Namespace) -> int:
    locations, code = check_can_start(args, "ui")
    if locations is None:
        return code
    from census_pipeline.defs.dbt import dbt_executable, prepare_manifest
    from census_pipeline.runner import ensure_instance_config

    prepare_manifest()
    if os.environ.get("DAGSTER_HOME"):
        ensure_instance_config(os.environ["DAGSTER_HOME"])
    dagster = str(Path(dbt_executable()).with_name("dagster"))
    os.execv(dagster, [dagster, "dev", "-w", str(PROJECT_ROOT / "workspace.yaml"), "-h", args.host, "-p", args.port])
    return 0  # not reached


def cmd_explain(args: argparse.Namespace) -> int:
    from census_pipeline.lib.explain import ExplainError, explain, open_warehouse, render

    warehouse = apply_default_locations()["CENSUS_WAREHOUSE"]
    try:
        with open_warehouse(warehouse) as con:
            result = explain(con, args.table, args.region, args.column)
    except ExplainError as e:
        print(f"census explain: {e}", file=sys.stderr)
        return 2
    print(render(result), end="")
    return 0 if result.traced else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="census", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)

    g = sub.add_parser("generate", help="write a demo landing zone and its truth file",
                       description="Write a synthetic census landing zone that follows the data contract, "
                                   "calibrated to Hangzhou's published figures, with real-census defects "
                                   "planted at configurable rates; and beside it a truth file of the "
                                   "correct outputs (<out>.truth.json).")
    g.add_argument("--households", type=int, default=20000, help="listed households (default 20000, ~50,000 persons)")
    g.add_argument("--seed", type=int, default=2020, help="random seed: the same seed gives the same census")
    g.add_argument("--out", required=True, help="landing-zone folder to create (must be empty or new)")
    g.add_argument("--truth", help="where to write the truth JSON (default <out>.truth.json)")
    g.add_argument("--workers", type=int, default=None,
                   help="processes drawing the counties (default $CENSUS_GENERATE_WORKERS or 1); the output is the "
                        "same whatever the number")
    g.add_argument("--pes-seed", type=int, help="seed of the post-enumeration survey alone (default: from --seed); "
                                                "the census is the same whatever it is")
    g.add_argument("--rate", action="append", metavar="NAME=VALUE",
                   help="override a defect rate, e.g. --rate malformed_line=0.01 (repeatable)")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    g.set_defaults(func=cmd_generate)

    p = sub.add_parser("prepare", help="parse the dbt project so Dagster can load its manifest")
    p.add_argument("--force", action="store_true", help="parse even if the manifest is up to date")
    p.set_defaults(func=cmd_prepare)

    r = sub.add_parser("run", help="materialize every asset through Dagster and print a summary",
                       description="Materialize every asset in dependency order through Dagster, as a run of "
                                   "the census_all job (the job the nightly schedule and the landing-zone sensor "
                                   "run), in this process. Runs are recorded in DAGSTER_HOME when set, where the "
                                   "UI can re-execute them; a run there whose process was killed is marked failed "
                                   "first. Exits non-zero when an asset or a blocking check fails; Ctrl-C stops "
                                   "the run (exit 130), marks it failed, and a rerun finishes it.")
    r.add_argument("--select", default="*", help="asset selection (Dagster syntax) within census_all, default "
                                                 "everything")
    r.add_argument("--demo", action="store_true",
                   help="a generated demo census: without CENSUS_PSEUDONYM_KEY, use the public development key "
                        "(also CENSUS_DEMO=1)")
    r.set_defaults(func=cmd_run)

    c = sub.add_parser("ingest-by-county", help="ingest new upload batches county by county (the province path)",
                       description="Run the census_ingest_by_county job in this process: read each new upload batch "
                                   "once and route its lines to their counties, then one step per county (each "
                                   "writing a DuckDB file of its own beside the warehouse), then merge them into the "
                                   "warehouse. The same lines, quarantine and ledger as `census run`'s one-step "
                                   "ingestion; `census run` afterwards merges any county not yet merged and reads "
                                   "any county left waiting.")
    c.add_argument("--county", action="append", metavar="CODE",
                   help="only this county's step (a six-digit code; repeatable); the other counties' lines wait "
                        "for a later run")
    c.set_defaults(func=cmd_ingest_by_county)

    u = sub.add_parser("ui", add_help=False, help="the Dagster UI over the same locations and key rules as `census run`",
                       description="Serve the Dagster UI (dagster dev) for the project. Its runs need "
                                   "CENSUS_PSEUDONYM_KEY as `census run` does; --demo as for `census run`.")
    u.add_argument("--help", action="help", help="show this help message and exit")
    u.add_argument("--demo", action="store_true", help="as for `census run`")
    u.add_argument("-h", "--host", default="127.0.0.1")
    u.add_argument("-p", "--port", default="3000")
    u.set_defaults(func=cmd_ui)

    e = sub.add_parser("explain", help="what one published bulletin cell rests on: persons, edits, submissions, "
                                       "EAs, enumerators (counts only)",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Trace one published cell (table, region, column) to the person records it "
                                   "counts, in the warehouse (CENSUS_WAREHOUSE, opened read-only), and print how "
                                   "many persons, how many of their records were edited or imputed, how many "
                                   "households, submissions, enumeration areas and enumerators they rest on, the "
                                   "channel split (PAD / self) and the households resolved from more than one "
                                   "submission. Restricted zone: counts only, never a name or an ID number.",
                       epilog="examples:\n"
                              "  census explain b1 330100 population       杭州市 常住人口\n"
                              "  census explain b2 西湖区 female            a county by its Chinese name\n"
                              "  census explain b6 330106 流动人口          a column by its bulletin label\n"
                              "  census explain t1 330102001 male          a township (before perturbation)\n\n"
                              "Cells that count persons: b1-b8 and t1 counts (population, male, age_0_14, han, "
                              "floating, urban, ...).\nA percentage, rate, average, household count or long-form "
                              "estimate is said to be one (exit 1).\n"
                              "exit codes: 0 explained; 1 the cell does not count persons; 2 a wrong argument, or "
                              "the warehouse\nmissing or in use by a run.")
    e.add_argument("table", help="published table: b1 .. b8, t1 (or its full name, e.g. b1_population); lf_* "
                                 "tables are weighted estimates")
    e.add_argument("region", help="region_code (330100 the city, 330106 a county, a 9-digit township for t1) "
                                  "or its Chinese name (杭州市, 西湖区)")
    e.add_argument("column", help="column of the table (population, male, age_65_plus, ...) or its Chinese "
                                  "label in the bulletin (常住人口, 男, ...)")
    e.set_defaults(func=cmd_explain)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code = args.func(args)
    except KeyboardInterrupt:  # Ctrl-C before a run started (loading, parsing dbt) or after it ended
        what = INTERRUPTED if args.command == "run" else "interrupted"
        print(f"census {args.command}: {what}", file=sys.stderr, flush=True)
        code = 130
    if argv is None and args.command == "run":
        _exit_now(code)
    return code


def _exit_now(code: int) -> None:
    """End `census run`'s process once the run is over and everything is written, without the
    interpreter's teardown: dbt ran in this process (defs/dbt_in_process.py), and at teardown the
    DuckDB bindings report the type constants some module still holds as "leaked" (some 90 lines
    on stderr, after a run that went well). Output is flushed and the log handlers closed first;
    the run's events are committed already (the event log commits each one). multiprocessing's
    exit work runs first: each dbt manifest holds a multiprocessing lock (a named semaphore) that
    its finalizer releases, and without it the resource tracker, outliving the process, wrote
    "There appear to be 1 leaked semaphore objects" into the run's log."""
    import logging
    from multiprocessing import util

    util._exit_function()  # what atexit would have run: finalizers (the semaphores unlinked); no child processes here
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
