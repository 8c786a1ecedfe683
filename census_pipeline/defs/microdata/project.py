"""The dbt project and its manifest, prepared once (not on every code-location load)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from dagster_dbt import DbtProject

from census_pipeline.lib.codes import PROJECT_ROOT

DBT_DIR = PROJECT_ROOT / "dbt_project"
dbt_project = DbtProject(project_dir=DBT_DIR, profiles_dir=DBT_DIR)


def dbt_executable() -> str:
    """The dbt beside this interpreter (dagster-dbt needs it; the venv may not be on PATH)."""
    candidate = Path(sys.executable).with_name("dbt")
    return str(candidate) if candidate.exists() else "dbt"


def _newest_source_mtime() -> float:
    newest = 0.0
    for sub in ("models", "macros", "seeds", "tests"):
        for p in (DBT_DIR / sub).rglob("*"):
            if p.is_file():
                newest = max(newest, p.stat().st_mtime)
    for name in ("dbt_project.yml", "profiles.yml", "packages.yml"):
        p = DBT_DIR / name
        if p.exists():
            newest = max(newest, p.stat().st_mtime)
    return newest


def prepare_manifest(force: bool = False) -> Path:
    """`dbt parse` when the manifest is missing or older than the project's files."""
    manifest = dbt_project.manifest_path
    if force or not manifest.exists() or manifest.stat().st_mtime < _newest_source_mtime():
        env = dict(os.environ)
        env.setdefault("CENSUS_WAREHOUSE", str(PROJECT_ROOT / "data" / "warehouse.duckdb"))
        subprocess.run([dbt_executable(), "parse", "--quiet", "--project-dir", str(DBT_DIR), "--profiles-dir",
                        str(DBT_DIR)], check=True, env=env, cwd=DBT_DIR)
    return manifest


KEEP_INVOCATION_FOLDERS = 10  # dbt's artifacts of the last builds, for whoever debugs a run
PRUNE_AFTER_S = 3600  # never a folder a build (another test worker, say) may still be writing


def prune_invocation_folders(target: Path, keep: int = KEEP_INVOCATION_FOLDERS, older_than_s: float = PRUNE_AFTER_S,
                             now: float | None = None) -> int:
    """dagster-dbt gives every dbt invocation a folder of its own under dbt_project/target
    (<asset>-<run>-<hash>: a manifest, run results, compiled SQL, ~7 MB); nothing removes them, so
    a nightly run grows the project by ~5 GB a year. Keep the newest `keep` of each asset's
    folders, and any younger than `older_than_s`; remove the rest. Returns how many went."""
    import shutil
    import time

    now = time.time() if now is None else now
    folders: dict[str, list[tuple[float, Path]]] = {}
    for p in target.glob("*-*-*"):
        if p.is_dir() and (p / "manifest.json").exists():
            folders.setdefault(p.name.split("-")[0], []).append((p.stat().st_mtime, p))
    removed = 0
    for entries in folders.values():
        for mtime, p in sorted(entries, reverse=True)[keep:]:
            if now - mtime > older_than_s:
                shutil.rmtree(p, ignore_errors=True)
                removed += 1
    return removed
