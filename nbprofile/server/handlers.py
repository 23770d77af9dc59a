"""REST API for the JupyterLab panel: the catalog, runs of a notebook, cells of a run (and deleting
one), comparisons, reports.

Every handler is an authenticated ``APIHandler``; parameters are checked and a
bad one is a 400 with a message. A notebook path from the client is confined to
the server's root directory. Store calls run on a small thread pool, never on
Tornado's event loop (a locked database must not freeze the server). The store
is shared with the kernels that write to it (SQLite in WAL mode).
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import tornado.web
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

from nbprofile._version import __version__
from nbprofile.budgets.evaluate import Verdict
from nbprofile.errors import ExportError, StoreError
from nbprofile.metrics import CATALOG, REGRESSION_FRACTION
from nbprofile.readings import Reading
from nbprofile.record import CellRecord, current_user, finite, utc_iso
from nbprofile.redact import mask_record
from nbprofile.report import registry
from nbprofile.report.compare import compare_runs
from nbprofile.report.footer import hotspot_lines
from nbprofile.report.json_report import dumps
from nbprofile.server.kernel_usage import kernel_usage
from nbprofile.store import open_store
from nbprofile.store.base import RecordStore
from nbprofile.store.forget import still_written

T = TypeVar("T")
#: threads for store calls: reads are short, and SQLite serialises writers anyway
STORE_THREADS = 4


class NbprofileHandler(APIHandler):
    """Shared parts: the store (called off the event loop), argument checks, JSON replies."""

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """jupyter_server's JSON error (``message``, ``reason``), with the message as it was raised:
        its own reads ``log_message``, in which Tornado doubles every ``%`` (for the log's
        formatting), so a client would read ``%%2e`` where the path said ``%2e``."""
        error = (kwargs.get("exc_info") or (None, None, None))[1]
        if not isinstance(error, tornado.web.HTTPError) or not error.get_message():
            super().write_error(status_code, **kwargs)
            return
        self.set_header("Content-Type", "application/json")
        self.finish(dumps({"message": error.get_message(), "reason": error.reason}))

    def _store(self) -> RecordStore:
        store = self.settings.get("nbprofile_store")
        if store is None:
            try:
                store = open_store(self.settings.get("nbprofile_db"))
            except StoreError as exc:
                raise tornado.web.HTTPError(503, str(exc)) from None
            self.settings["nbprofile_store"] = store
        return store

    async def in_store(self, call: Callable[[RecordStore], T]) -> T:
        """Run ``call(store)`` on the store's threads and wait for it without blocking the loop."""
        executor: ThreadPoolExecutor = self.settings["nbprofile_executor"]
        return await asyncio.get_running_loop().run_in_executor(executor, lambda: call(self._store()))

    def arg(self, name: str, *, required: bool = True) -> str | None:
        value = self.get_query_argument(name, default=None)
        if required and not value:
            raise tornado.web.HTTPError(400, f"missing query parameter {name!r}")
        return value

    def reply(self, payload: Any) -> None:
        """Every route's JSON: a non-finite number (a record stored by an older version can hold
        one) goes out as null, never as ``Infinity``, which is not JSON, nor as a 500."""
        self.set_header("Content-Type", "application/json")
        self.finish(dumps(payload))

    def notebook_path(self, relative: str) -> str:
        """The absolute path of a notebook named relative to the server root, confined to it."""
        root = os.path.realpath(self.settings["server_root_dir"])
        if "\x00" in relative or os.path.isabs(relative):
            raise tornado.web.HTTPError(400, f"notebook must be a path relative to the server root: {relative!r}")
        path = os.path.realpath(os.path.join(root, relative))
        if os.path.commonpath([root, path]) != root:
            raise tornado.web.HTTPError(400, f"notebook path leaves the server root: {relative!r}")
        return path

    async def kernels_of(self, relative: str) -> set[str]:
        """Kernels now serving this notebook. A kernel names its notebook once, at
        start, so after a rename only the server knows which notebook it serves."""
        manager = self.settings.get("session_manager")
        if manager is None:
            return set()
        sessions = await manager.list_sessions()
        return {s["kernel"]["id"] for s in sessions
                if s.get("path") == relative and s.get("kernel")}

    async def records_of(self, run_id: str) -> list[CellRecord]:
        """The records of a run, each as :func:`readable` makes it, secrets masked (records
        are masked when made; a store an older version wrote may hold them unmasked)."""
        records = await self.in_store(lambda store: store.records(run_id))
        return [readable(mask_record(r)) for r in records]

    async def find_run(self, run_id: str) -> dict[str, Any]:
        run = await self.in_store(lambda store: store.run(run_id))
        if run is None:
            raise tornado.web.HTTPError(404, f"no run {run_id!r} in the record store")
        return run


def readable(record: CellRecord) -> CellRecord:
    """``record`` with what an older version stored as Infinity or NaN made showable: such a
    reading becomes unavailable, saying what was stored, and such a number in the verdict or
    budget becomes None (a threshold beyond any number is no threshold: "not checked"), so
    that every view and format shows it as it shows any unmeasured number instead of
    failing to format it (``format_value(nan)`` raises)."""
    odd = {key: r for key, r in record.readings.items()
           if r.value is not None and not math.isfinite(r.value)}
    if not odd and record.verdict is None and record.budget is None:
        return record
    readings = {**record.readings, **{
        key: Reading.unavailable(r.unit, f"stored as {r.value!r} by an older nbprofile", r.source)
        for key, r in odd.items()}}
    return dataclasses.replace(record, readings=readings, verdict=finite(record.verdict),
                               budget=finite(record.budget))


def run_payload(run: dict[str, Any]) -> dict[str, Any]:
    """A run as the panel reads it: ``cells`` distinct cells, ``executions`` records (a cell
    run twice counts twice), ``wall_s`` the wall time of all executions."""
    info = run.get("info") or {}
    return {
        "run_id": run["run_id"], "started_at": utc_iso(run["started_at"]),
        "cells": run.get("cells"), "executions": run.get("executions", run.get("cells")),
        "wall_s": run.get("wall_s"),
        "budget_failures": run.get("budget_failures", 0), "kernel_id": run.get("kernel_id"),
        "host": run.get("host"), "user": run.get("user"), "notebook": run.get("notebook"),
        "nbprofile": info.get("nbprofile", ""), "info": info,
    }


def cell_payload(record: CellRecord) -> dict[str, Any]:
    """A record as the panel reads it: its verdict carries the texts the footer shows."""
    payload = record.to_json()
    if record.verdict:
        payload["verdict"] = Verdict.from_json(record.verdict).to_json(shown=True)
    hot = hotspot_lines(record, top=10)
    # where the time went, in the footer's words (the panel shows them, it does not word them)
    payload["hotspots"] = None if hot is None else {"lines": hot[0], "how": hot[1]}
    return payload


class MetricsHandler(NbprofileHandler):
    """The metric catalog: labels, units and rules the panel uses instead of its own copy."""

    @tornado.web.authenticated
    def get(self) -> None:
        self.reply({"metrics": [m.to_json() for m in CATALOG], "regression_fraction": REGRESSION_FRACTION})


class FormatsHandler(NbprofileHandler):
    """The report formats, in menu order."""

    @tornado.web.authenticated
    def get(self) -> None:
        self.reply({"formats": [f.to_json() for f in registry.FORMATS.values()]})


class RunsHandler(NbprofileHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        relative = self.arg("notebook")
        assert relative is not None
        path = self.notebook_path(relative)
        kernels = await self.kernels_of(relative)
        kernel = self.arg("kernel", required=False)
        if kernel:
            kernels.add(kernel)
        # scope: "team" (everyone's runs: a team store's; a SQLite file holds one user's anyway) or "mine"
        scope = self.arg("scope", required=False) or "team"
        if scope not in ("mine", "team"):
            raise tornado.web.HTTPError(400, f"scope must be 'mine' or 'team', not {scope!r}")
        user = current_user() if scope == "mine" else None
        runs = await self.in_store(lambda store: store.runs_of(path, kernels, user=user))
        self.reply({"notebook": relative, "scope": scope, "runs": [run_payload(r) for r in runs]})


class RunHandler(NbprofileHandler):
    @tornado.web.authenticated
    async def get(self, run_id: str) -> None:
        run = await self.find_run(run_id)
        records = await self.records_of(run_id)
        self.reply({"run": run_payload(run), "cells": [cell_payload(r) for r in records]})


    @tornado.web.authenticated
    async def delete(self, run_id: str) -> None:
        """Delete a run and its records (the panel's "Delete run"): on a team store, only one's
        own run (``nbprofile delete`` deletes any); never a run a kernel here still writes."""
        run = await self.find_run(run_id)
        owner = run.get("user")
        if owner and owner != current_user():
            raise tornado.web.HTTPError(403, f"run {run_id} is {owner}'s: only its user deletes it here "
                                             "(`nbprofile delete` deletes any run)")
        refused = await self.in_store(lambda store: still_written(store.path, run_id))
        if refused is not None:
            raise tornado.web.HTTPError(409, refused)
        deleted = await self.in_store(lambda store: store.delete_runs([run_id]))
        self.reply({"deleted": {"runs": deleted.runs, "records": deleted.records}})


class CompareHandler(NbprofileHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        a, b = self.arg("a"), self.arg("b")
        assert a is not None and b is not None
        run_a, run_b = await self.find_run(a), await self.find_run(b)
        records_a, records_b = await self.records_of(a), await self.records_of(b)
        comparison = compare_runs(records_a, records_b)
        self.reply({"a": run_payload(run_a), "b": run_payload(run_b), **comparison.to_json()})


class ReportHandler(NbprofileHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        run_id = self.arg("run")
        assert run_id is not None
        try:
            fmt = registry.get(self.arg("format", required=False) or registry.DEFAULT)
        except ExportError as exc:
            raise tornado.web.HTTPError(400, str(exc)) from None
        run = await self.find_run(run_id)
        records = await self.records_of(run_id)
        try:
            text = fmt.render(records, run_payload(run))
        except ExportError as exc:
            raise tornado.web.HTTPError(400, str(exc)) from None
        self.set_header("Content-Disposition", f'attachment; filename="nbprofile-{run_id}{fmt.suffix}"')
        self.finish(text, set_content_type=fmt.media_type)  # APIHandler would say JSON


class StatusHandler(NbprofileHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        path, count = await self.in_store(lambda store: (store.path, store.count()))
        self.reply({"version": __version__, "store": path, "records": count})


class KernelUsageHandler(NbprofileHandler):
    """A kernel's memory now (the status bar's readout); 404 for a kernel this server does not know."""

    @tornado.web.authenticated
    def get(self, kernel_id: str) -> None:
        manager = self.kernel_manager
        if kernel_id not in manager:
            raise tornado.web.HTTPError(404, f"no kernel {kernel_id!r} on this server")
        self.reply(kernel_usage(manager.get_kernel(kernel_id)))


ROUTES: list[tuple[str, type[NbprofileHandler]]] = [
    (r"metrics", MetricsHandler),
    (r"formats", FormatsHandler),
    (r"runs", RunsHandler),
    (r"runs/(?P<run_id>[0-9A-Za-z_-]{1,64})", RunHandler),
    (r"compare", CompareHandler),
    (r"report", ReportHandler),
    (r"status", StatusHandler),
    (r"kernels/(?P<kernel_id>[0-9A-Za-z_-]{1,64})/usage", KernelUsageHandler),
]


def setup_handlers(web_app: Any, db: str | None = None) -> None:
    base = url_path_join(web_app.settings["base_url"], "nbprofile", "api")
    web_app.settings["nbprofile_db"] = db
    web_app.settings["nbprofile_executor"] = ThreadPoolExecutor(STORE_THREADS, thread_name_prefix="nbprofile-store")
    web_app.add_handlers(".*$", [(url_path_join(base, pattern), handler) for pattern, handler in ROUTES])
