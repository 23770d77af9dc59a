"""Shared fixtures: a temp store for every test, a real IPython kernel (tests/support/kernel.py),
an in-process shell."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.support.kernel import Kernel, kernel_env

# the server tests' fixtures (jp_fetch, ...); the test extra installs it. Where it is missing (a GPU
# machine with only the kernel's packages, running `pytest -m gpu`), the other tests still run.
pytest_plugins = ["pytest_jupyter.jupyter_server"] if importlib.util.find_spec("pytest_jupyter") else []


@pytest.fixture(autouse=True)
def _isolated_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own record store and Jupyter dirs: never the user's."""
    db = tmp_path / "records.db"
    monkeypatch.setenv("NBPROFILE_DB", str(db))
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter-data"))
    monkeypatch.delenv("NBPROFILE_RUN_ID", raising=False)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    return db


@pytest.fixture(autouse=True)
def _no_leftover_profiler() -> Iterator[None]:
    yield
    from nbprofile.engine import current

    left = current.install(None)
    if left is not None:
        left.close()


@pytest.fixture
def start_kernel(tmp_path: Path, _isolated_store: Path) -> Iterator[Any]:
    """``start_kernel(notebook=...)`` starts a fresh kernel; all are shut down after the test."""
    kernels: list[Kernel] = []

    def start(notebook: str | None = "/work/nb/analysis.ipynb", db: Path | None = None,
              extra_arguments: list[str] | None = None) -> Kernel:
        kernel = Kernel(kernel_env(tmp_path, db or _isolated_store, notebook), extra_arguments)
        kernels.append(kernel)
        return kernel

    yield start
    for kernel in kernels:
        kernel.shutdown()


@pytest.fixture
def shell(tmp_path: Path) -> Iterator[Any]:
    """An in-process IPython shell (as in a terminal), with history kept in memory."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    if InteractiveShell.initialized():
        InteractiveShell.clear_instance()
    ip = InteractiveShell.instance(config=config, ipython_dir=str(tmp_path / "ipython"))
    yield ip
    if "nbprofile" in ip.extension_manager.loaded:
        ip.run_line_magic("unload_ext", "nbprofile")
    InteractiveShell.clear_instance()
