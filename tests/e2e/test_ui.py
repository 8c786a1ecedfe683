"""The Dagster UI as a statistician opens it: served on 127.0.0.1, lineage from the raw uploads
to every bulletin table present (GraphQL), the asset graph rendered in headless Chromium."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from census_pipeline.lib.codes import PROJECT_ROOT
from tests.conftest import debian_tool

BULLETIN = ["b1_population", "b2_sex", "b3_age", "b4_education", "b5_ethnicity", "b6_migration", "b7_urban_rural",
            "b8_hk_macao_taiwan_foreign"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _graphql(port: int, query: str) -> dict:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", data=json.dumps({"query": query}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


@pytest.fixture()
def ui(tmp_path):
    port = _free_port()
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    env = dict(os.environ, DAGSTER_HOME=str(home), CENSUS_LANDING_DIR=str(tmp_path / "landing"),
               CENSUS_WAREHOUSE=str(tmp_path / "w.duckdb"), CENSUS_OUTPUT_DIR=str(tmp_path / "out"),
               PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    # background processes here start with SIGINT/SIGTERM ignored: restore them so we can stop it
    proc = subprocess.Popen(["env", "--default-signal=INT,TERM", str(Path(sys.executable).with_name("dagster")),
                             "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
                            cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=5)
                break
            except OSError:
                assert proc.poll() is None, proc.stdout.read().decode()[-3000:]
                assert time.monotonic() < deadline, "the UI did not come up within 180 s"
                time.sleep(1)
        yield port
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # only the processes this test started
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.mark.slow
def test_lineage_from_raw_uploads_to_every_bulletin_table_and_the_graph_renders(ui, tmp_path):
    nodes = _graphql(ui, "{ assetNodes { assetKey { path } dependencyKeys { path } groupName description } }")
    nodes = nodes["data"]["assetNodes"]
    parents = {"/".join(n["assetKey"]["path"]): {"/".join(d["path"]) for d in n["dependencyKeys"]} for n in nodes}

    def upstream(key: str) -> set[str]:
        seen, todo = set(), [key]
        while todo:
            for p in parents.get(todo.pop(), ()):
                if p not in seen:
                    seen.add(p)
                    todo.append(p)
        return seen

    for table in BULLETIN:
        assert "raw/household_submissions" in upstream(f"bulletin/{table}"), table
    assert "bulletin/b1_population" in upstream("bulletin/published_files")
    assert {"raw/hukou_register", "raw/household_submissions"} <= upstream("linkage/linkage_quality")
    assert {"raw/pes_person_lines", "raw/household_submissions"} <= upstream("quality/pes_estimates")
    assert "quality/pes_estimates" in upstream("bulletin/published_files")  # the bulletin's PES section
    assert all(n["description"] for n in nodes if n["groupName"])

    assert _graphql(ui, "mutation { setNuxSeen }")["data"]["setNuxSeen"] is True  # no first-visit dialog
    chromium = debian_tool("chromium", "chromium", "fonts-noto-cjk")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--virtual-time-budget=15000"]
    url = f"http://127.0.0.1:{ui}/asset-groups"
    shot = tmp_path / "lineage.png"
    subprocess.run([chromium, *flags, f"--user-data-dir={tmp_path / 'c1'}", "--window-size=1600,1000",
                    f"--screenshot={shot}", url], check=True, capture_output=True, timeout=120)
    assert shot.stat().st_size > 20_000  # a rendered page, not a blank one
    dom = subprocess.run([chromium, *flags, f"--user-data-dir={tmp_path / 'c2'}", "--dump-dom", url],
                         check=True, capture_output=True, timeout=120, text=True).stdout
    assert "Global asset lineage" in dom
    for group in ("ingestion", "microdata", "linkage", "coverage_survey", "quality", "publication"):
        assert group in dom
