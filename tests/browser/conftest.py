"""End-to-end fixtures: the course in JupyterLab, driven by Debian's Chromium through Playwright.

One JupyterLab server per session (headless, 127.0.0.1, a free port, a fresh token, its own
settings with the news pop-up off) serves a temporary working copy of ``notebooks/``, so a run
never writes into the repository. One page at laptop width (1280 px) boots JupyterLab once;
each test opens its chapter inside it (the ``chapter`` fixture) and, when the test ends, the
chapter is closed, its kernel shut down, and its node processes must be gone. Kernels of the
selected tests' notebooks start early, while earlier tests run (each test module names its
``NOTEBOOK``). When the session ends, JupyterLab, Chromium and Playwright's node driver are
stopped, and any process they leave behind is killed and reported as an error.

What this must never do: download a browser (``playwright install`` cannot work here), bind
anything but 127.0.0.1, or pass silently when Chromium or Playwright is missing: every browser
test then skips with the reason.

Screenshots of every step land in ``tests/browser/artifacts/`` (or ``$DISTLAB_BROWSER_ARTIFACTS``).
With ``DISTLAB_UPDATE_SCREENSHOTS=1`` the one-per-widget pictures are also copied to
``docs/screenshots/``.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
DOCS_SCREENSHOTS = ROOT / "docs" / "screenshots"
ARTIFACTS = Path(
    os.environ.get("DISTLAB_BROWSER_ARTIFACTS", Path(__file__).resolve().parent / "artifacts")
)
CHROMIUM = Path(os.environ.get("DISTLAB_CHROMIUM", "/usr/bin/chromium"))
# A normal laptop: the issue asks that every widget be legible at this width.
VIEWPORT = {"width": 1280, "height": 900}
# Flags measured to work here (shared/NOTEBOOKS.md): no sandbox as root, no GPU, no background
# traffic to Google, which has no network to reach anyway.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
START_DEADLINE_S = 60.0  # JupyterLab start on a loaded 2-core machine
RUN_DEADLINE_S = 120.0  # running one chapter's cells
UI_DEADLINE_S = 30.0  # a click showing its effect


def pytest_configure(config: pytest.Config) -> None:
    # pyproject.toml registers the marker too; this keeps --strict-markers happy without it.
    config.addinivalue_line(
        "markers", "browser: drives JupyterLab in headless Chromium (skips with a reason)"
    )


def missing_browser_reason() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]' installs it)"
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        return (
            f"no Chromium at {CHROMIUM} (apt-get install chromium chromium-driver, "
            "or set DISTLAB_CHROMIUM)"
        )
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _children(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _reap(processes: list[psutil.Process], grace_s: float) -> list[str]:
    """Wait for processes to exit; kill and describe the ones that did not."""
    _gone, alive = psutil.wait_procs(processes, timeout=grace_s)
    described = []
    for process in alive:
        with contextlib.suppress(psutil.Error):
            described.append(f"pid {process.pid}: {' '.join(process.cmdline())[:120]}")
            process.kill()
    psutil.wait_procs(alive, timeout=5)
    return described


@dataclass
class Lab:
    """A running JupyterLab server: where it listens, its token, its working copy."""

    process: subprocess.Popen
    port: int
    token: str
    root: Path
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def api(self, method: str, path: str, body: Any = None) -> Any:
        request = urllib.request.Request(
            f"{self.base}/api/{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = response.read()
        return json.loads(answer) if answer else None

    def prestart(self, notebook: str) -> None:
        """Start a notebook's kernel now; JupyterLab attaches to it when the page opens it.

        Kernels start while earlier tests run, instead of one after another on a busy machine.
        """
        with contextlib.suppress(OSError):
            self.api(
                "POST",
                "sessions",
                {
                    "path": notebook,
                    "name": notebook,
                    "type": "notebook",
                    "kernel": {"name": "python3"},
                },
            )

    def shutdown_kernels(self, notebooks: list[str]) -> list[str]:
        """Shut the notebooks' kernels down; kill and describe what survives of them and their
        node processes."""
        sessions = [s for s in self.api("GET", "sessions") or [] if s["path"] in notebooks]
        kernel_ids = [s["kernel"]["id"] for s in sessions if s.get("kernel")]
        kernels = [
            p
            for p in _children(self.process.pid)
            if any(kernel_id in " ".join(_cmdline(p)) for kernel_id in kernel_ids)
        ]
        processes = kernels + [child for k in kernels for child in _children(k.pid)]
        for session in sessions:
            with contextlib.suppress(OSError):
                self.api("DELETE", f"sessions/{session['id']}")
        return _reap(processes, grace_s=20.0)

    def tail_log(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""


def _cmdline(process: psutil.Process) -> list[str]:
    try:
        return process.cmdline()
    except psutil.Error:
        return []


def _notebooks_of(items: list[pytest.Item], root: Path) -> list[str]:
    """The notebooks the selected tests open (each test module names its ``NOTEBOOK``).

    A module may also offer ``write_notebook(root)`` to create its notebook in the copy.
    """
    found: list[str] = []
    for module in dict.fromkeys(item.module for item in items if isinstance(item, pytest.Function)):
        notebook = getattr(module, "NOTEBOOK", None)
        if notebook is None or notebook in found:
            continue
        if hasattr(module, "write_notebook"):
            module.write_notebook(root)
        if (root / notebook).exists():
            found.append(notebook)
    return found


def _write_lab_settings(settings_dir: Path) -> None:
    # The "would you like to receive official Jupyter news?" toast covers part of the page.
    notification = settings_dir / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True)
    (notification / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )


@pytest.fixture(scope="package")
def lab(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Lab]:
    """JupyterLab on 127.0.0.1 serving a temporary copy of notebooks/; stopped at the end."""
    reason = missing_browser_reason()
    if reason:
        pytest.skip(reason)
    base = tmp_path_factory.mktemp("lab")
    root = base / "notebooks"
    shutil.copytree(NOTEBOOKS, root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    # Chapters that call ../benchmarks or ../docs find them beside the copy, as in the repo.
    for sibling in ("benchmarks", "docs"):
        if (ROOT / sibling).is_dir():
            (base / sibling).symlink_to(ROOT / sibling)
    settings = base / "settings"
    _write_lab_settings(settings)
    env = dict(os.environ)
    env.update(
        JUPYTER_CONFIG_DIR=str(base / "config"),
        JUPYTER_RUNTIME_DIR=str(base / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(settings),
        JUPYTERLAB_WORKSPACES_DIR=str(base / "workspaces"),
        PYTHONUNBUFFERED="1",
    )
    port, token = _free_port(), secrets.token_hex(24)
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        f"--LabApp.user_settings_dir={settings}",
        f"--LabApp.workspaces_dir={base / 'workspaces'}",
        "--LabApp.news_url=",
        # A kernel gets this long to exit after shutdown_request, then SIGTERM, then SIGKILL
        # (default 5 s); the teardown then checks that its node processes are gone too.
        "--KernelManager.shutdown_wait_time=2.0",
        # window.jupyterapp: lets the test pick cells and run JupyterLab's own commands.
        "--LabApp.expose_app_in_browser=True",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    log = base / "jupyterlab.log"
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            command, cwd=root, env=env, stdout=log_file, stderr=subprocess.STDOUT
        )
    server = Lab(process=process, port=port, token=token, root=root, log=log)
    try:
        deadline = time.monotonic() + START_DEADLINE_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"JupyterLab exited with {process.returncode}:\n{server.tail_log()}")
            with contextlib.suppress(OSError):
                server.api("GET", "status")
                break
            if time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not answer in {START_DEADLINE_S} s")
            time.sleep(0.2)
        for notebook in _notebooks_of(request.session.items, root):
            server.prestart(notebook)
        yield server
    finally:
        processes = _children(process.pid)
        with contextlib.suppress(OSError):
            server.api("POST", "shutdown")  # shuts kernels down too
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        leftovers = _reap(processes, grace_s=15.0)
        # Anything else this session started (Chromium, Playwright's node driver) must be gone
        # too once the browser fixture closed it; it ends before this one.
        # (multiprocessing's resource tracker is shared by the whole test run, not ours.)
        strays = [
            p
            for p in psutil.Process().children(recursive=True)
            if p.pid not in before and "resource_tracker" not in " ".join(_cmdline(p))
        ]
        leftovers += _reap(strays, grace_s=10.0)
        if leftovers:
            pytest.fail("browser session left processes running:\n" + "\n".join(leftovers))


@pytest.fixture(scope="package")
def browser(lab: Lab) -> Iterator[Any]:
    """Debian's Chromium, headless, launched by Playwright (its own download never runs)."""
    from playwright.sync_api import sync_playwright

    manager = sync_playwright().start()
    try:
        chromium = manager.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        manager.stop()


@pytest.fixture(scope="package")
def artifacts() -> Path:
    """The directory for screenshots; emptied once per session so nothing stale remains."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in [*ARTIFACTS.glob("*.png"), *ARTIFACTS.glob("*.txt")]:
        old.unlink()
    return ARTIFACTS


@dataclass
class Chapter:
    """One notebook open in JupyterLab, with the few actions a learner takes in it."""

    page: Any
    lab: Lab
    name: str
    artifacts: Path
    steps: list[Path] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def note(self, what: str) -> None:
        """Append ``<chapter> <seconds since opened> <what>`` to artifacts/timings.txt."""
        with (self.artifacts / "timings.txt").open("a") as log:
            log.write(f"{self.name} {time.monotonic() - self.started:6.1f}s {what}\n")

    def open(self) -> Chapter:
        """Open the notebook in the running JupyterLab and wait until its kernel is idle."""
        self.started = time.monotonic()
        self.page.keyboard.press("Escape")  # a dialog left by the previous test, if any
        self.page.evaluate(
            """async (name) => {
                const app = window.jupyterapp;
                await app.commands.execute('docmanager:open', {path: name, factory: 'Notebook'});
            }""",
            self.name,
        )
        self.page.wait_for_function(
            """(name) => {
                const widget = window.jupyterapp.shell.currentWidget;
                return widget && widget.context && widget.context.path.endsWith(name)
                    && widget.sessionContext && widget.sessionContext.session
                    && widget.sessionContext.session.kernel
                    && widget.sessionContext.session.kernel.status === 'idle';
            }""",
            arg=self.name,
            timeout=START_DEADLINE_S * 1000,
        )
        self.note("opened, kernel idle")
        return self

    def close(self) -> None:
        """Close every tab without saving (the copy is thrown away anyway)."""
        self.page.evaluate(
            """() => {
                const app = window.jupyterapp;
                for (const widget of Array.from(app.shell.widgets('main'))) {
                    if (widget.context && widget.context.model) {
                        widget.context.model.dirty = false;
                    }
                    widget.dispose();
                }
            }"""
        )

    def run_through(self, source_pattern: str | None = None) -> int:
        """Run every cell, or every cell up to and including the first one matching the regex.

        Stopping early keeps a live demo alive: chapters close their cluster in a later cell.
        Returns the index of the last cell run. Fails with the error if a cell raised.
        """
        last = self.page.evaluate(
            """async (pattern) => {
                const app = window.jupyterapp;
                const notebook = app.shell.currentWidget.content;
                const cells = notebook.widgets;
                let last = cells.length - 1;
                if (pattern !== null) {
                    const regex = new RegExp(pattern);
                    last = cells.findIndex(c => regex.test(c.model.sharedModel.getSource()));
                    if (last < 0) { return -1; }
                }
                // Stored execution counts would make the wait below pass at once.
                await app.commands.execute('notebook:clear-all-cell-outputs');
                // Mark the last cell run, so a test can find that cell's output.
                cells.forEach(c => c.node.removeAttribute('data-distlab-target'));
                cells[last].node.setAttribute('data-distlab-target', 'yes');
                if (last === cells.length - 1) {
                    await app.commands.execute('notebook:run-all-cells');
                } else {
                    notebook.activeCellIndex = last + 1;
                    await app.commands.execute('notebook:run-all-above');
                }
                return last;
            }""",
            source_pattern,
        )
        assert last >= 0, f"{self.name}: no cell matches {source_pattern!r}"
        self.page.wait_for_function(
            """(last) => {
                const notebook = window.jupyterapp.shell.currentWidget.content;
                const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
                const cells = notebook.widgets.slice(0, last + 1)
                    .filter(c => c.model.type === 'code');
                // JupyterLab stops a run at the first error: that also ends the wait.
                const failed = cells.some(c => c.model.outputs.toJSON()
                    .some(o => o.output_type === 'error'));
                return kernel.status === 'idle'
                    && (failed || cells.every(c => c.model.executionCount !== null));
            }""",
            arg=last,
            timeout=RUN_DEADLINE_S * 1000,
        )
        errors = self.page.evaluate(
            """() => window.jupyterapp.shell.currentWidget.content.widgets
                .filter(c => c.model.type === 'code')
                .flatMap(c => c.model.outputs.toJSON())
                .filter(o => o.output_type === 'error')
                .map(o => o.ename + ': ' + o.evalue)"""
        )
        if errors:
            self.shot("cell-error")
            pytest.fail(f"{self.name}: a cell raised: {errors}")
        self.note(f"ran cells 0-{last}")
        return last

    @property
    def output(self) -> Any:
        """The output area of the last cell :meth:`run_through` ran."""
        # Top-level outputs only: an Output widget inside nests output areas of its own.
        return self.page.locator(
            "[data-distlab-target='yes'] .jp-Cell-outputArea > .jp-OutputArea-child"
            " > .jp-OutputArea-output"
        ).last

    def shot(self, step: str, element: Any | None = None) -> Path:
        """Save a screenshot of the page (or of one element) as ``<chapter>-<nn>-<step>.png``."""
        stem = Path(self.name).stem
        path = self.artifacts / f"{stem}-{len(self.steps) + 1:02d}-{step}.png"
        target = element if element is not None else self.page
        target.screenshot(path=str(path))
        self.steps.append(path)
        self.note(f"screenshot {path.name}")
        return path

    def keep_for_docs(self, screenshot: Path, name: str) -> None:
        """Copy a widget screenshot to docs/screenshots/ when DISTLAB_UPDATE_SCREENSHOTS=1."""
        if os.environ.get("DISTLAB_UPDATE_SCREENSHOTS") == "1":
            DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(screenshot, DOCS_SCREENSHOTS / name)

    def wait_for(
        self, condition: Callable[[], bool], what: str, timeout: float = UI_DEADLINE_S
    ) -> None:
        """Poll until ``condition()`` holds; fail naming ``what`` after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                self.shot("timeout")
                pytest.fail(f"{self.name}: not seen within {timeout:.0f} s: {what}")
            time.sleep(0.2)


@pytest.fixture(scope="package")
def lab_page(lab: Lab, browser: Any) -> Iterator[Any]:
    """One laptop-sized page running JupyterLab for the whole session.

    JupyterLab's front end takes seconds to boot on a busy machine, so tests open and close
    notebooks inside it instead of reloading it (``?reset``: start from an empty workspace).
    """
    context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
    try:
        page = context.new_page()
        page.set_default_timeout(UI_DEADLINE_S * 1000)
        page.goto(f"{lab.base}/lab?reset&token={lab.token}")
        page.wait_for_function(
            "() => window.jupyterapp && window.jupyterapp.shell"
            " && document.querySelector('.jp-LabShell') !== null",
            timeout=START_DEADLINE_S * 1000,
        )
        page.evaluate("async () => { await window.jupyterapp.restored; }")
        yield page
    finally:
        context.close()


@pytest.fixture
def chapter(lab: Lab, lab_page: Any, artifacts: Path) -> Iterator[Callable[[str], Chapter]]:
    """Open a chapter in JupyterLab; afterwards close it and shut its kernel and nodes down."""
    opened: list[Chapter] = []

    def open_chapter(name: str) -> Chapter:
        if not (lab.root / name).exists():
            pytest.skip(f"notebook {name} not present yet")
        opened.append(Chapter(page=lab_page, lab=lab, name=name, artifacts=artifacts).open())
        return opened[-1]

    try:
        yield open_chapter
    finally:
        for opened_chapter in opened:
            opened_chapter.note("test done")
            opened_chapter.close()
        leftovers = lab.shutdown_kernels([c.name for c in opened])
        for opened_chapter in opened:
            opened_chapter.note("kernel and nodes gone")
        if leftovers:
            pytest.fail("kernel shutdown left node processes running:\n" + "\n".join(leftovers))
