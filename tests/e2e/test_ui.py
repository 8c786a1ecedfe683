"""The Dagster UI as a statistician opens it: served on 127.0.0.1, lineage from the raw uploads
to every bulletin table present (GraphQL), the asset graph rendered in headless Chromium, and a run
of `census run` found under census_all and re-executed from its page."""

import contextlib
import fcntl
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from census_pipeline.lib.codes import PROJECT_ROOT
from tests.builders import CHROMIUM_FLAGS, chromium

BULLETIN = ["b1_population", "b2_sex", "b3_age", "b4_education", "b5_ethnicity", "b6_migration", "b7_urban_rural",
            "b8_hk_macao_taiwan_foreign"]


def wait_until(poll, seconds: float, what: str, every: float = 1.0, shown=lambda: ""):
    """The first truthy value of `poll()`, asked every `every` seconds; fails after `seconds` saying
    what did not happen and `shown()` (what the page or the run shows then)."""
    deadline = time.monotonic() + seconds
    while not (value := poll()):
        assert time.monotonic() < deadline, f"{what} not within {seconds:.0f} s; {shown()}"
        time.sleep(every)
    return value


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _graphql(port: int, query: str) -> dict:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", data=json.dumps({"query": query}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


@contextlib.contextmanager
def dagster_dev(env: dict[str, str]):
    """`dagster dev` (webserver, daemon, code server) of this project on a free port of 127.0.0.1,
    under `env`; yields the port and stops what it started."""
    port = _free_port()
    # its output (and its run workers') goes to a file: a pipe nobody reads fills, and then every
    # process writing to it waits
    log = tempfile.TemporaryFile()
    # background processes here start with SIGINT/SIGTERM ignored: restore them so we can stop it
    proc = subprocess.Popen(["env", "--default-signal=INT,TERM", str(Path(sys.executable).with_name("dagster")),
                             "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
                            cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)

    def up() -> bool:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=5)
            return True
        except OSError:
            log.seek(0)
            assert proc.poll() is None, log.read().decode(errors="replace")[-3000:]
            return False

    try:
        wait_until(up, 180, "the UI's server_info")
        yield port
    finally:
        with contextlib.suppress(ProcessLookupError):  # (gone already: its log said why above)
            os.killpg(proc.pid, signal.SIGINT)  # only the processes this test started
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


@pytest.fixture()
def ui(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    env = dict(os.environ, DAGSTER_HOME=str(home), CENSUS_LANDING_DIR=str(tmp_path / "landing"),
               CENSUS_WAREHOUSE=str(tmp_path / "w.duckdb"), CENSUS_OUTPUT_DIR=str(tmp_path / "out"),
               PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    with dagster_dev(env) as port:
        yield port


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
    flags = [*CHROMIUM_FLAGS, "--virtual-time-budget=15000"]
    url = f"http://127.0.0.1:{ui}/asset-groups"
    shot = tmp_path / "lineage.png"
    subprocess.run([chromium(), *flags, f"--user-data-dir={tmp_path / 'c1'}", "--window-size=1600,1000",
                    f"--screenshot={shot}", url], check=True, capture_output=True, timeout=120)
    assert shot.stat().st_size > 20_000  # a rendered page, not a blank one
    # the page as a person waits for it: its graph is drawn once the UI's queries have answered,
    # which on a loaded machine took longer than a one-shot --dump-dom's 15 s of virtual time (the
    # page was there, the groups not yet)
    groups = ["ingestion", "microdata", "linkage", "coverage_survey", "quality", "publication"]
    html = "(document.documentElement ? document.documentElement.outerHTML : '')"  # none between two documents
    browser = Chromium(tmp_path / "c2")
    try:
        browser.open(url)
        browser.wait_for(f"{html}.includes('Global asset lineage') && {json.dumps(groups)}.every(g => {html}.includes(g))",
                         120, "the lineage page with the group of every census stage", f"{PAGE_TEXT}.slice(0, 1500)")
    finally:
        browser.close()


class Chromium:
    """Headless Chromium driven as a person would use it (open a page, wait for it, click), over the
    DevTools protocol on a pipe (--remote-debugging-pipe: fd 3 in, fd 4 out, messages ending in NUL),
    so no browser driver is installed."""

    def __init__(self, profile: Path):
        to_r, to_w = os.pipe()
        from_r, from_w = os.pipe()
        to_r, from_w = (fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_r, from_w))  # clear of fds 3 and 4
        self.proc = subprocess.Popen(["bash", "-c", f'exec "$0" "$@" 3<&{to_r} 4>&{from_w}', chromium(),
                                      *CHROMIUM_FLAGS, "--window-size=1600,1000", f"--user-data-dir={profile}",
                                      "--remote-debugging-pipe", "about:blank"],
                                     pass_fds=(to_r, from_w), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        for fd in (to_r, from_w):
            os.close(fd)
        self._out, self._in, self._buffer, self._id = to_w, from_r, b"", 0
        target = self._send("Target.createTarget", url="about:blank")["targetId"]
        self._session = self._send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]

    def _send(self, method: str, session: str | None = None, **params) -> dict:
        self._id += 1
        message = {"id": self._id, "method": method, "params": params} | ({"sessionId": session} if session else {})
        os.write(self._out, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + 60
        while True:  # events (no "id") are passed over
            while b"\0" not in self._buffer:
                ready = select.select([self._in], [], [], max(0.0, deadline - time.monotonic()))[0]
                assert ready, f"Chromium did not answer {method} within 60 s"
                chunk = os.read(self._in, 1 << 16)
                assert chunk, f"Chromium ended (exit code {self.proc.poll()})"
                self._buffer += chunk
            raw, self._buffer = self._buffer.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self._id:
                assert "error" not in reply, (method, reply["error"])
                return reply["result"]

    def open(self, url: str) -> None:
        self._send("Page.navigate", session=self._session, url=url)

    def js(self, expression: str):
        """The value of a JavaScript expression in the page."""
        reply = self._send("Runtime.evaluate", session=self._session, expression=expression, awaitPromise=True,
                           returnByValue=True)
        assert "exceptionDetails" not in reply, reply["exceptionDetails"]
        return reply["result"].get("value")

    def wait_for(self, expression: str, seconds: float, what: str, shown: str = "document.title"):
        """The first truthy value of `expression`, polled; `shown` is what the failure reports."""
        return wait_until(lambda: self.js(expression), seconds, what, every=0.5,
                          shown=lambda: f"the page shows {self.js(shown)!r}")

    def close(self) -> None:
        with contextlib.suppress(AssertionError, OSError):
            self._send("Browser.close")
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)  # only the browser this test started
            self.proc.wait()
        os.close(self._out)
        os.close(self._in)


PAGE_TEXT = "(document.body ? document.body.innerText : '')"  # none while a page is being replaced
REEXECUTE_ALL = "[...document.querySelectorAll('button')].find(b => b.textContent.trim().startsWith('Re-execute all'))"


def _run(port: int, run_id: str) -> dict:
    return _graphql(port, f'{{ runOrError(runId: "{run_id}") {{ ... on Run {{ runId status pipelineName '
                          f'parentRunId rootRunId tags {{ key value }} }} }} }}')["data"]["runOrError"]


@pytest.mark.slow
def test_a_census_run_is_a_census_all_run_and_re_executes_from_its_page(cli_run, tmp_path):
    """Issue 15: the run `census run` made (the session's one, conftest.cli_run) is under census_all in
    the UI, its Re-execute is enabled, and "Re-execute all" launches a new census_all run from it."""
    assert cli_run.run is not None and cli_run.run.returncode == 0, (cli_run.gen.stderr, cli_run.run)
    import dagster as dg

    home = tmp_path / "dagster_home"  # a copy: the re-execution adds a run, the shared run's home stays as made
    shutil.copytree(cli_run.env["DAGSTER_HOME"], home)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        [parent] = [r.run_id for r in instance.get_runs()]
    # the re-execution, if it runs on, writes a warehouse and outputs of its own, not the shared run's
    env = dict(cli_run.env, DAGSTER_HOME=str(home), CENSUS_WAREHOUSE=str(tmp_path / "w.duckdb"),
               CENSUS_OUTPUT_DIR=str(tmp_path / "out"))
    with dagster_dev(env) as port:
        assert _graphql(port, "mutation { setNuxSeen }")["data"]["setNuxSeen"] is True  # no first-visit dialog
        browser = Chromium(tmp_path / "chromium")
        child = None
        try:
            browser.open(f"http://127.0.0.1:{port}/runs/{parent}")
            # (a) the run's job, as the page's header names and links it: census_all of the loaded code
            # location. Until the UI has placed the run in its definitions it links /guess/<job>, and
            # stays there for a job it cannot find (a run of __ephemeral_asset_job__ has no such header)
            header_link = ("(e => e && e.querySelector('a') && [e.textContent, e.querySelector('a').getAttribute('href')])"
                           "([...document.querySelectorAll('span')].find(e => e.textContent.startsWith('Run of ')))")
            text, job_link = browser.wait_for(
                f"(l => l && /^\\/locations\\/[^/]+\\/jobs\\/census_all$/.test(l[1]) && l)({header_link})", 120,
                "the run's header linking the census_all job of the loaded definitions", header_link)
            assert text.startswith("Run of census_all @"), text
            assert "__ephemeral_asset_job__" not in browser.js(PAGE_TEXT)
            assert browser.js("document.title").startswith(f"Runs | census_all | {parent[:8]}")
            # (b) then (the run placed) Re-execute is enabled, without the error mark of a job "not
            # available in your definitions" (a warning mark, "may be different than the one used for
            # the original run", is right: `census run` ran it with the in-process executor)
            state = browser.js(f"(b => b && {{disabled: b.disabled, marks: [...b.querySelectorAll('[role=img]')]"
                               f".map(i => i.getAttribute('aria-label'))}})({REEXECUTE_ALL})")
            assert state is not None and not state["disabled"] and "error" not in state["marks"], state
            # (c) "Re-execute all" launches a new run of census_all from this one, and the UI opens it
            browser.js(f"{REEXECUTE_ALL}.click()")
            path = browser.wait_for(f"location.pathname.startsWith('/runs/') && !location.pathname.includes("
                                    f"'{parent}') && location.pathname", 60, "the page of the new run",
                                    f"{PAGE_TEXT}.slice(-1500)")  # an error dialog, if any
            child = path.rstrip("/").rsplit("/", 1)[1]
            run = _run(port, child)
            assert (run["pipelineName"], run["parentRunId"], run["rootRunId"]) == ("census_all", parent, parent), run
            assert run["status"] in ("QUEUED", "NOT_STARTED", "STARTING", "STARTED", "SUCCESS"), run
            # the daemon takes it from the queue and a run worker starts it: it is launched, not only recorded
            def launched() -> bool:
                run = _run(port, child)
                assert run["status"] not in ("FAILURE", "CANCELED"), run
                return run["status"] in ("STARTED", "SUCCESS")

            wait_until(launched, 180, "the re-execution started", shown=lambda: _run(port, child)["status"])
            # both runs in the history of census_all, as its page lists them
            browser.open(f"http://127.0.0.1:{port}{job_link.rstrip('/')}/runs")
            browser.wait_for(f"{PAGE_TEXT}.includes('{child[:8]}') && {PAGE_TEXT}.includes('{parent[:8]}')", 60,
                             "both runs in census_all's run list", f"{PAGE_TEXT}.slice(0, 1500)")
        finally:
            browser.close()
            if child and _run(port, child)["status"] not in ("SUCCESS", "FAILURE", "CANCELED"):
                # a whole census is not re-run here (the shared run is the one checked): stop it, so
                # that no run worker outlives the server
                _graphql(port, f'mutation {{ terminateRun(runId: "{child}") {{ __typename }} }}')
                wait_until(lambda: _run(port, child)["status"] in ("FAILURE", "CANCELED"), 120,
                           "the re-execution stopped", shown=lambda: _run(port, child))
