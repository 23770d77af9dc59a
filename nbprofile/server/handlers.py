"""REST API for the JupyterLab panel: runs of a notebook, cells of a run, comparisons, reports.

Every handler is an authenticated ``APIHandler``; parameters are checked and a
bad one is a 400 with a message. A notebook path from the client is confined to
the server's root directory. The store is opened read-mostly, shared with the
kernels that write to it (SQLite in WAL mode).
"""

from __future__ import annotations

import json
import os
from typing import Any

import tornado.web
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

from nbprofile._version import __version__
from nbprofile.compare import compare_runs
from nbprofile.errors import StoreError
from nbprofile.record import utc_iso
from nbprofile.report import FORMATS, export
from nbprofile.errors import ExportError
from nbprofile.store import SQLiteStore


class NbprofileHandler(APIHandler):
    """Shared parts: the store, argument checks, JSON replies."""

    @property
    def store(self) -> SQLiteStore:
        store = self.settings.get("nbprofile_store")
        if store is None:
            try:
                store = SQLiteStore(self.settings.get("nbprofile_db"))
            except StoreError as exc:
                raise tornado.web.HTTPError(503, str(exc)) from None
            self.settings["nbprofile_store"] = store
        return store

    def arg(self, name: str, *, required: bool = True) -> str | None:
        value = self.get_query_argument(name, default=None)
        if required and not value:
            raise tornado.web.HTTPError(400, f"missing query parameter {name!r}")
        return value

    def reply(self, payload: Any) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(payload, allow_nan=False))

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

    def run_payload(self, run: dict[str, Any]) -> dict[str, Any]:
        info = run.get("info") or {}
        return {
            "run_id": run["run_id"], "started_at": utc_iso(run["started_at"]),
            "cells": run.get("cells"), "wall_s": run.get("wall_s"),
            "budget_failures": run.get("budget_failures", 0), "kernel_id": run.get("kernel_id"),
            "host": run.get("host"), "notebook": run.get("notebook"),
            "nbprofile": info.get("nbprofile", ""), "info": info,
        }

    def find_run(self, run_id: str) -> dict[str, Any]:
        run = self.store.run(run_id)
        if run is None:
            raise tornado.web.HTTPError(404, f"no run {run_id!r} in the record store")
        return run


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
        runs = self.store.runs_of(path, kernels)
        self.reply({"notebook": relative, "runs": [self.run_payload(r) for r in runs]})


class RunHandler(NbprofileHandler):
    @tornado.web.authenticated
    def get(self, run_id: str) -> None:
        run = self.find_run(run_id)
        records = self.store.records(run_id)
        self.reply({"run": self.run_payload(run), "cells": [r.to_json() for r in records]})


class CompareHandler(NbprofileHandler):
    @tornado.web.authenticated
    def get(self) -> None:
        a, b = self.arg("a"), self.arg("b")
        assert a is not None and b is not None
        run_a, run_b = self.find_run(a), self.find_run(b)
        comparison = compare_runs(self.store.records(a), self.store.records(b))
        self.reply({"a": self.run_payload(run_a), "b": self.run_payload(run_b), **comparison.to_json()})


class ReportHandler(NbprofileHandler):
    @tornado.web.authenticated
    def get(self) -> None:
        run_id = self.arg("run")
        fmt = self.arg("format", required=False) or "html"
        assert run_id is not None
        if fmt not in FORMATS:
            raise tornado.web.HTTPError(400, f"unknown report format {fmt!r}: use one of {', '.join(FORMATS)}")
        run = self.find_run(run_id)
        try:
            text = export(fmt, self.store.records(run_id), self.run_payload(run))
        except ExportError as exc:
            raise tornado.web.HTTPError(400, str(exc)) from None
        suffix, media_type = FORMATS[fmt]
        self.set_header("Content-Disposition", f'attachment; filename="nbprofile-{run_id}{suffix}"')
        self.finish(text, set_content_type=media_type)  # APIHandler would say JSON


class StatusHandler(NbprofileHandler):
    @tornado.web.authenticated
    def get(self) -> None:
        self.reply({"version": __version__, "store": self.store.path, "records": self.store.count()})


ROUTES: list[tuple[str, type[NbprofileHandler]]] = [
    (r"runs", RunsHandler),
    (r"runs/(?P<run_id>[0-9A-Za-z_-]{1,64})", RunHandler),
    (r"compare", CompareHandler),
    (r"report", ReportHandler),
    (r"status", StatusHandler),
]


def setup_handlers(web_app: Any, db: str | None = None) -> None:
    base = url_path_join(web_app.settings["base_url"], "nbprofile", "api")
    web_app.settings["nbprofile_db"] = db
    web_app.add_handlers(".*$", [(url_path_join(base, pattern), handler) for pattern, handler in ROUTES])
