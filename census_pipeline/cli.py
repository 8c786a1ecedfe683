"""`census`: generate a demo census, prepare the project, materialize every asset.

    census generate --households 20000 --seed 2020 --out data/landing
    census run                  # every asset, in dependency order, through Dagster
    census prepare              # parse the dbt project once (Dagster reads its manifest)

Locations come from CENSUS_LANDING_DIR, CENSUS_WAREHOUSE and CENSUS_OUTPUT_DIR; unset, they
default to the project's data folder (data/landing, data/warehouse.duckdb, data/output).
CENSUS_PSEUDONYM_KEY is the secret key of the pseudonyms in the microdata; unset, the demo's
development key is used and says so.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from census_pipeline.lib.codes import PROJECT_ROOT

DATA_DIR = PROJECT_ROOT / "data"
DEFAULTS = {
    "CENSUS_LANDING_DIR": DATA_DIR / "landing",
    "CENSUS_WAREHOUSE": DATA_DIR / "warehouse.duckdb",
    "CENSUS_OUTPUT_DIR": DATA_DIR / "output",
}


def apply_default_locations() -> dict[str, str]:
    """Fill the three location variables with the data-folder defaults where unset, and the
    pseudonym key with the demo's development key (which then announces itself)."""
    from census_pipeline.dbt_plugin import DEV_KEY

    for name, default in DEFAULTS.items():
        os.environ.setdefault(name, str(default))
    if not os.environ.get("CENSUS_PSEUDONYM_KEY"):
        os.environ["CENSUS_PSEUDONYM_KEY"] = DEV_KEY
        print("census: CENSUS_PSEUDONYM_KEY is not set; using the built-in DEVELOPMENT key "
              "(pseudonyms are not secret; fine for the demo, never for real data)", file=sys.stderr)
    return {name: os.environ[name] for name in DEFAULTS}


def cmd_generate(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from census_pipeline.lib.generator import Rates, generate, truth_path_for

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
                              pes_seed=args.pes_seed)
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
    from census_pipeline.defs.microdata.project import prepare_manifest

    path = prepare_manifest(force=args.force)
    print(f"dbt manifest ready: {path}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    locations = apply_default_locations()
    from census_pipeline.defs.microdata.project import prepare_manifest

    prepare_manifest()
    from census_pipeline.runner import materialize_all

    return materialize_all(locations, selection=args.select)


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
                       description="Materialize every asset in dependency order through Dagster (runs are "
                                   "recorded in DAGSTER_HOME when set). Exits non-zero when an asset or a "
                                   "blocking check fails.")
    r.add_argument("--select", default="*", help="asset selection (Dagster syntax), default everything")
    r.set_defaults(func=cmd_run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
