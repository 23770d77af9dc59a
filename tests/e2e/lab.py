"""A real JupyterLab for browser tests and the panel benchmark.

``start_lab`` runs ``python -m jupyterlab`` in a temp root with its own Jupyter
config/data/runtime dirs, IPython dir and record store, no news toast, and the
nbprofile frontend and server extensions; ``Lab`` talks to its REST API and
drives Debian's chromium through Playwright (no ``playwright install``).

Recipe and pitfalls: ``shared/notes/build-and-test.md`` (kernel readiness,
news toast, ``--allow-root``, chromium flags).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

REPO = Path(__file__).resolve().parents[2]
TOKEN = "nbprofile-e2e"

#: Debian's chromium, driven by Playwright's bundled driver; headless, no sandbox (root in CI).
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]


def chromium_path() -> str | None:
    """Debian's chromium, or ``$NBPROFILE_CHROMIUM``; None when absent."""
    for candidate in (os.environ.get("NBPROFILE_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def labextension_dir() -> Path | None:
    """The built frontend: this checkout's build (``jlpm build`` / ``pip install -e .``), else the installed one."""
    built = REPO / "nbprofile" / "labextension"
    if (built / "package.json").exists():
        return built
    from jupyter_core.paths import jupyter_path

    for base in jupyter_path("labextensions"):
        candidate = Path(base) / "nbprofile"
        if (candidate / "package.json").exists():
            return candidate
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_notebook(path: Path, sources: list[tuple[str, str]]) -> list[str]:
    """Write a notebook of ``(cell_type, source)`` with a python3 kernelspec; return the cell ids."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for kind, source in sources:
        nb.cells.append(nbformat.v4.new_markdown_cell(source) if kind == "markdown"
                        else nbformat.v4.new_code_cell(source))
    nbformat.write(nb, str(path))
    return [cell["id"] for cell in nb.cells]


@dataclass
class Lab:
    url: str
    root: Path
    db: Path | str
    log: Path
    proc: subprocess.Popen[bytes]
    token: str = TOKEN
    _log_file: Any = field(default=None, repr=False)

    def api(self, path: str) -> Any:
        request = urllib.request.Request(f"{self.url}/{path.lstrip('/')}",
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"null")

    def page_url(self, notebook: str) -> str:
        return f"{self.url}/lab/tree/{notebook}?token={self.token}"

    def wait_kernel_idle(self, notebook: str, timeout: float = 90) -> str:
        """Wait until the notebook's kernel exists, is idle and has a client (pitfall 10); return its id."""
        deadline = time.monotonic() + timeout
        seen: Any = None
        while time.monotonic() < deadline:
            seen = self.api("api/sessions")
            for session in seen:
                kernel = session.get("kernel") or {}
                if (session.get("path") == notebook and kernel.get("execution_state") == "idle"
                        and kernel.get("connections", 0) >= 1):
                    return str(kernel["id"])
            time.sleep(0.25)
        raise TimeoutError(f"no idle kernel for {notebook} after {timeout} s; sessions: {seen}\n{self.tail()}")

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._log_file is not None:
            self._log_file.close()


def start_lab(root: Path, *, db: Path | str, timeout: float = 60) -> Lab:
    """Start JupyterLab serving ``root`` with the nbprofile extensions and the record store ``db`` (a
    SQLite file, or a ``postgresql://`` URL).

    The server extension is enabled in the temp config whatever the environment's
    config says. Raises ``RuntimeError`` when the frontend has not been built.
    """
    frontend = labextension_dir()
    if frontend is None:
        raise RuntimeError("the nbprofile frontend is not built: run `pip install -e .` or "
                           "`jlpm --cwd labextension install && jlpm --cwd labextension build`")
    home = root.parent / f"{root.name}-jupyter"
    config, data, runtime, ipython = (home / name for name in ("config", "data", "runtime", "ipython"))
    for d in (config, data, runtime, ipython):
        d.mkdir(parents=True, exist_ok=True)
    # This checkout's build wins over an installed copy: extra paths are searched first.
    extra = home / "labextensions"
    extra.mkdir(exist_ok=True)
    link = extra / "nbprofile"
    if not link.exists():
        link.symlink_to(frontend, target_is_directory=True)
    # The news toast covers the page (pitfall 8).
    news = config / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True, exist_ok=True)
    (news / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    (config / "jupyter_server_config.json").write_text(json.dumps({
        "ServerApp": {"jpserver_extensions": {"nbprofile": True}, "allow_root": True},
        "LabServerApp": {"extra_labextensions_path": [str(extra)]},
    }))
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(config), "JUPYTER_DATA_DIR": str(data),
        "JUPYTER_RUNTIME_DIR": str(runtime), "IPYTHONDIR": str(ipython),
        "NBPROFILE_DB": str(db),
    }
    env.pop("NBPROFILE_RUN_ID", None)
    env.pop("JPY_SESSION_NAME", None)
    port = _free_port()
    log = home / "lab.log"
    log_file = log.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         "--allow-root", f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={root}",
         "--LabApp.news_url=None"],
        cwd=root, env=env, stdout=log_file, stderr=subprocess.STDOUT,
    )
    lab = Lab(f"http://127.0.0.1:{port}", root, db, log, proc, _log_file=log_file)
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {proc.returncode}:\n{lab.tail()}")
        try:
            lab.api("api/status")
            return lab
        except (urllib.error.URLError, ConnectionError, OSError):
            if time.monotonic() > deadline:
                lab.stop()
                raise RuntimeError(f"jupyter lab did not answer within {timeout} s:\n{lab.tail()}") from None
            time.sleep(0.2)


def shot(page: Any, folder: Path, name: str) -> Path:
    """A screenshot in ``folder`` (the test's), copied to /tmp/<name> for a person to look at."""
    path = folder / name
    page.screenshot(path=str(path))
    shutil.copyfile(path, Path("/tmp") / name)
    return path


def menu(page: Any, *labels: str) -> None:
    """Click through JupyterLab's main menu: ``menu(page, "Run", "Run All Cells")``."""
    page.click(f".lm-MenuBar-itemLabel:text-is('{labels[0]}')")
    for label in labels[1:-1]:
        page.hover(f".lm-Menu-itemLabel:text-is('{label}')")
    page.click(f".lm-Menu-itemLabel:text-is('{labels[-1]}')")


def in_browser(lab: Lab, folder: Path, check: Any, *, failure: str,
               viewport: tuple[int, int] = (1280, 800), timeout_ms: int = 90_000) -> None:
    """Run ``check(page)`` in Debian's chromium: on failure a screenshot (``failure``) and the
    server's log; afterwards, no page error and no console error that names nbprofile."""
    from playwright import sync_api

    chromium = chromium_path()
    assert chromium is not None, "no chromium (apt-get install chromium)"
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "nbprofile" in m.text else None)
        page.set_default_timeout(timeout_ms)
        try:
            check(page)
        except Exception:
            shot(page, folder, failure)
            print(lab.tail(60))
            raise
        finally:
            browser.close()
        assert not errors, errors
