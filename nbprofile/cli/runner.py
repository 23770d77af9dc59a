"""Run a notebook headless, in a fresh kernel with nbprofile loaded, and collect its run.

nbclient sends no ``cellId`` with its execute requests (JupyterLab does), so the
runner adds each cell's nbformat id itself: records of a headless run then match
the same cells run in JupyterLab, and relative budgets compare across both.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from nbprofile.record import BASELINE_ENV, RUN_ID_ENV, CellRecord, new_run_id
from nbprofile.redact import mask
from nbprofile.report.died import died_summary
from nbprofile.store import DB_ENV, open_store


@dataclass
class RunResult:
    """What a headless run produced."""

    notebook: str
    run_id: str
    records: list[CellRecord] = field(default_factory=list)
    error: str | None = None  # the notebook itself failed: which cell, and how
    failed_cell: int | None = None  # index of the first code cell that raised
    budget_stops: list[str] = field(default_factory=list)  # cells a --strict/--enforce budget stopped
    elapsed_s: float = 0.0

    @property
    def budget_failures(self) -> list[CellRecord]:
        return [r for r in self.records if r.verdict_status == "fail"]

    @property
    def exit_code(self) -> int:
        """0: every budget holds; 1: a budget failed; 2: the notebook failed or could not run."""
        if self.error is not None:
            return 2
        return 1 if self.budget_failures or self.budget_stops else 0


@dataclass(frozen=True)
class RaisedCell:
    """A cell whose execute reply was an error (what nbclient's ``on_cell_error`` saw)."""

    index: int
    ename: str
    evalue: str


#: the error a ``%%budget --strict`` or ``--enforce`` cell raises (:class:`nbprofile.errors.BudgetExceeded`);
#: the kernel reports it by class name only
BUDGET_ERROR = "BudgetExceeded"


#: how long a cell that ran past ``--timeout`` gets to stop after it is interrupted
INTERRUPT_GRACE_S = 10.0


def _client_class() -> type:
    from nbclient import NotebookClient

    class CellIdClient(NotebookClient):
        """A NotebookClient whose execute requests carry the cell's id, as JupyterLab's do."""

        _nbprofile_cell_id: str | None = None
        _nbprofile_send_ids: bool = True

        async def async_execute_cell(self, cell: Any, cell_index: int, *args: Any, **kwargs: Any) -> Any:
            self._nbprofile_cell_id = cell.get("id") if self._nbprofile_send_ids else None
            return await super().async_execute_cell(cell, cell_index, *args, **kwargs)

        async def async_start_new_kernel_client(self) -> Any:
            kc = await super().async_start_new_kernel_client()
            client = self

            def execute(code: str, silent: bool = False, store_history: bool = True,
                        user_expressions: dict[str, Any] | None = None,
                        allow_stdin: bool | None = None, stop_on_error: bool = True) -> str:
                content = {
                    "code": code, "silent": silent, "store_history": store_history,
                    "user_expressions": user_expressions or {},
                    "allow_stdin": kc.allow_stdin if allow_stdin is None else allow_stdin,
                    "stop_on_error": stop_on_error,
                }
                cell_id = client._nbprofile_cell_id
                metadata = {"cellId": cell_id} if cell_id else {}
                msg = kc.session.msg("execute_request", content, metadata=metadata)
                kc.shell_channel.send(msg)
                return str(msg["header"]["msg_id"])

            kc.execute = execute  # type: ignore[method-assign]
            return kc

        async def _async_handle_timeout(self, timeout: int, cell: Any = None) -> None:
            # Stop the cell and wait for its reply before giving up on the run: its record
            # (status interrupted) is then stored, and the kernel is idle when it is shut
            # down, rather than printing a ZMQ traceback as it replies on a closed socket.
            from queue import Empty

            from jupyter_core.utils import ensure_async
            from nbclient.exceptions import CellTimeoutError

            assert self.km is not None and self.kc is not None, "a timeout without a kernel"
            await ensure_async(self.km.interrupt_kernel())
            deadline = time.monotonic() + INTERRUPT_GRACE_S
            while (left := deadline - time.monotonic()) > 0:
                try:
                    msg = await ensure_async(self.kc.shell_channel.get_msg(timeout=left))
                except Empty:
                    break
                if msg.get("msg_type") == "execute_reply":
                    break
            raise CellTimeoutError.error_from_timeout_and_cell("Cell execution timed out", timeout, cell)

    return CellIdClient


def run_notebook(
    path: str | os.PathLike[str],
    *,
    timeout: float | None = None,
    kernel_name: str | None = None,
    db: str | None = None,
    progress: Callable[[str], None] | None = None,
    output: str | os.PathLike[str] | None = None,
    baseline_run: str | None = None,
    allow_errors: bool = False,
) -> RunResult:
    """Execute ``path`` top to bottom with nbprofile loaded; return the stored run.

    The kernel starts in the notebook's directory, as in JupyterLab. Records go
    to ``db`` (default: the user's store). With ``allow_errors`` a raising cell does
    not stop the run; the cells that raised still make it an error.
    """
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    nb_path = Path(path).resolve()
    try:
        nb = nbformat.read(nb_path, as_version=4)  # type: ignore[no-untyped-call]
    except (OSError, nbformat.reader.NotJSONError, ValueError) as exc:
        return RunResult(str(nb_path), "", error=f"cannot read {path}: {exc}")
    # Notebooks older than nbformat 4.5 have no cell ids; nbformat would make up
    # new ones at every load, which match nothing, so their cells go by code.
    send_ids = all("id" in cell for cell in nb.cells)
    run_id = new_run_id()
    env = dict(os.environ)
    env["JPY_SESSION_NAME"] = str(nb_path)
    env[RUN_ID_ENV] = run_id
    if baseline_run is not None:
        env[BASELINE_ENV] = baseline_run
    else:
        env.pop(BASELINE_ENV, None)
    if db is not None:
        env[DB_ENV] = str(db)
    code_cells = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    started = time.perf_counter()
    current: list[int] = []  # the cell running now: the one to blame if the run stops

    def on_cell_start(cell: Any, cell_index: int, **_: Any) -> None:
        current[:] = [cell_index]
        if progress is not None and cell.cell_type == "code":
            n = code_cells.index(cell_index) + 1 if cell_index in code_cells else 0
            first = mask(next((line for line in cell.source.splitlines() if line.strip()), ""))[:60]
            progress(f"[{n}/{len(code_cells)}] {time.perf_counter() - started:6.1f} s  {first}")

    raised: list[RaisedCell] = []

    def on_cell_error(cell: Any, cell_index: int, execute_reply: Any, **_: Any) -> None:
        # a cell tagged raises-exception is expected to raise: nbclient lets it, and so do we
        if "raises-exception" in cell.metadata.get("tags", []):
            return
        content = execute_reply["content"]
        raised.append(RaisedCell(cell_index, str(content.get("ename", "?")), str(content.get("evalue", ""))))

    from jupyter_client.manager import AsyncKernelManager

    name = kernel_name or nb.metadata.get("kernelspec", {}).get("name", "python3")
    # IPC sockets: the kernel is local, and ipykernel warns about unencrypted TCP.
    # The socket path must be absolute: the kernel starts in the notebook's folder.
    sockets = tempfile.mkdtemp(prefix="nbprofile-")
    km = (AsyncKernelManager(kernel_name=name, transport="ipc", ip=os.path.join(sockets, "kernel"))
          if os.name == "posix" else None)
    client = _client_class()(
        nb,
        km=km,
        timeout=timeout,
        kernel_name=name,
        resources={"metadata": {"path": str(nb_path.parent)}},
        extra_arguments=["--InteractiveShellApp.extensions=['nbprofile.ipython.headless']"],
        on_cell_start=on_cell_start,
        on_cell_error=on_cell_error,
        allow_errors=allow_errors,
    )
    client._nbprofile_send_ids = send_ids
    client.owns_km = True  # the manager is ours only to choose the transport: let nbclient shut it down
    result = RunResult(str(nb_path), run_id)
    stopped: str | None = None  # why the run ended before the last cell, other than a raising cell

    def describe() -> str:
        return _describe(nb, code_cells, current[0], send_ids) if current else "?"

    try:
        client.execute(env=env)
    except CellExecutionError as exc:
        # on_cell_error saw this cell before nbclient raised; this is only the run stopping there
        if not raised and current:
            raised.append(RaisedCell(current[0], exc.ename, exc.evalue))
    except CellTimeoutError:
        result.failed_cell = current[0] if current else None
        stopped = f"cell {describe()} timed out after {timeout} s"
    except DeadKernelError as exc:
        result.failed_cell = current[0] if current else None
        stopped = f"the kernel died in cell {describe()}: {exc}"
    finally:
        shutil.rmtree(sockets, ignore_errors=True)
    _classify(result, raised, stopped, lambda index: _describe(nb, code_cells, index, send_ids),
              ran_on=allow_errors)
    ended = _how_it_ended(km)
    result.elapsed_s = time.perf_counter() - started
    if output is not None:
        nbformat.write(nb, output)  # type: ignore[no-untyped-call]
    store = open_store(db, recover=False)
    try:
        # a kernel that died leaves its journal; recovering it makes a record of the cell it died in
        store.recover_journals(causes=lambda name: ended)
        result.records = store.records(run_id)
    finally:
        store.close()
    died = next((r for r in result.records if r.status == "died"), None)
    if died is not None:
        result.error = died_summary(died)
    return result


def _how_it_ended(km: Any) -> str | None:
    """The kernel's exit, in words, if it is known and was not a clean one."""
    process = getattr(getattr(km, "provisioner", None), "process", None)
    code = getattr(process, "returncode", None)
    if not isinstance(code, int) or code == 0:
        return None
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


def _classify(result: RunResult, raised: list[RaisedCell], stopped: str | None,
              describe: Callable[[int], str], *, ran_on: bool) -> None:
    """Sort the cells that raised: a budget's BudgetExceeded is a budget failure (exit 1),
    anything else is the notebook failing (exit 2), as is ``stopped`` (a timeout, a dead kernel).
    ``ran_on``: the run went past raising cells (``--allow-errors``)."""
    for cell in raised:
        if cell.ename == BUDGET_ERROR:
            where = f"cell {describe(cell.index)} failed its budget" if ran_on else \
                f"the run stopped at cell {describe(cell.index)}, which failed its budget"
            result.budget_stops.append(f"{where}: {cell.evalue}")
    errors = [c for c in raised if c.ename != BUDGET_ERROR]
    messages = [f"cell {describe(c.index)} raised {c.ename}: {c.evalue}" for c in errors]
    if errors:  # the first cell that raised, even when a later one timed out
        result.failed_cell = errors[0].index
    if stopped is not None:
        messages.append(stopped)
    if messages:
        result.error = "; ".join(messages)


def _describe(nb: Any, code_cells: list[int], index: int, with_ids: bool) -> str:
    """``#3 (id 1a2b3c4d)``; a notebook older than nbformat 4.5 has no ids (or only made-up
    ones), so its cells go by number and first line: ``#3 ("model.fit(x)")``."""
    number = code_cells.index(index) + 1 if index in code_cells else index + 1
    cell = nb.cells[index]
    if with_ids and cell.get("id"):
        return f"#{number} (id {cell['id']})"
    first = mask(next((line.strip() for line in cell.source.splitlines() if line.strip()), ""))
    shown = first if len(first) <= 50 else first[:49] + "…"
    return f'#{number} ("{shown}")'


def echo_progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
