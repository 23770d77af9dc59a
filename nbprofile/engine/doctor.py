"""``nbprofile doctor`` / ``%nbprofile doctor``: what works on this machine, why not, and the fix.

One row per meter (its load-time probe: works, estimates, is off, or is
unavailable and why, with what would make it work) and per piece of environment
the meters depend on: the record store, ``clear_refs``, RAPL, NVML, torch/CUDA,
CodeCarbon's data, and the carbon intensity and prices in use.

Given a profiler it reports that profiler's meters as they probed at load; alone
it builds the default set, probes each and closes it. GPU meter modules that are
not in this build get a "not built yet" row.
"""

from __future__ import annotations

import html
import importlib
import importlib.util
import io
import os
import sys
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nbprofile.datafiles import codecarbon_data_dir
from nbprofile.derive.carbon import CarbonConfig, load_table, resolve
from nbprofile.derive.cost import DEFAULT_KWH_USD, ComputePrices
from nbprofile.engine.assembly import default_meters
from nbprofile.engine.profiler import Profiler
from nbprofile.errors import StoreError
from nbprofile.meters.base import Meter
from nbprofile.meters.cpu_energy import CpuEnergyMeter
from nbprofile.meters.memory import CLEAR_REFS
from nbprofile.readings import Availability
from nbprofile.store import DB_ENV, default_path, open_store
from nbprofile.store.location import masked, scheme_of

#: statuses that need no fix
GOOD = ("ok", "estimate", "sampled", "opt-in", "info")


@dataclass(frozen=True)
class DoctorRow:
    section: str  # "meter" | "environment"
    name: str
    status: str  # ok | estimate | sampled | opt-in | off | unavailable | not built yet | error | info
    detail: str
    fix: str | None = None


@dataclass
class Doctor:
    """The report: ``rows`` in display order. Shows as a table in a terminal and in Jupyter."""

    rows: list[DoctorRow] = field(default_factory=list)

    def row(self, name: str) -> DoctorRow:
        return next(r for r in self.rows if r.name == name)

    @property
    def problems(self) -> list[DoctorRow]:
        return [r for r in self.rows if r.status not in GOOD]

    def to_dicts(self) -> list[dict[str, Any]]:
        return [asdict(r) for r in self.rows]

    def to_text(self, width: int = 120) -> str:
        try:
            from rich.console import Console
            from rich.table import Table
        except ImportError:  # rich is a dependency, but a broken install should still get a report
            return self._plain()
        out = io.StringIO()
        console = Console(file=out, width=width, color_system=None, force_terminal=False,
                          force_jupyter=False, soft_wrap=False, markup=False)
        console.print("nbprofile doctor")
        for section, title in (("meter", "meters"), ("environment", "environment")):
            table = Table(title=title, title_justify="left", expand=False)
            for column in ("component", "status", "detail", "fix"):
                table.add_column(column, overflow="fold")
            for r in self.rows:
                if r.section == section:
                    table.add_row(r.name, r.status, r.detail, r.fix or "")
            console.print(table)
        return "\n".join(line.rstrip() for line in out.getvalue().rstrip("\n").splitlines())

    def _plain(self) -> str:
        lines = ["nbprofile doctor"]
        for r in self.rows:
            lines.append(f"  [{r.section}] {r.name}: {r.status}: {r.detail}" + (f" (fix: {r.fix})" if r.fix else ""))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.to_text()

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(self.to_text())

    def _repr_html_(self) -> str:
        esc = html.escape
        body = "".join(
            f"<tr><td>{esc(r.section)}</td><td>{esc(r.name)}</td><td>{esc(r.status)}</td>"
            f"<td>{esc(r.detail)}</td><td>{esc(r.fix or '')}</td></tr>" for r in self.rows
        )
        return ('<div class="nbprofile-doctor"><b>nbprofile doctor</b><table><thead><tr><th></th>'
                "<th>component</th><th>status</th><th>detail</th><th>fix</th></tr></thead>"
                f"<tbody>{body}</tbody></table></div>")


def run_doctor(profiler: Profiler | None = None, *, carbon: CarbonConfig | None = None) -> Doctor:
    """The report for ``profiler``'s meters (as probed at load) or, without one, the default set."""
    doctor = Doctor()
    if profiler is not None:
        windows = profiler.windows
        for meter in windows.meters:
            doctor.rows.append(_meter_row(meter, windows.availability.get(meter.name),
                                          windows.disabled.get(meter.name)))
    else:
        for meter in default_meters():
            doctor.rows.append(_probe_and_close(meter))
    doctor.rows += _environment(profiler, carbon)
    return doctor


# -- meters ---------------------------------------------------------------------

def _meter_row(meter: Meter, availability: Availability | None, disabled: str | None) -> DoctorRow:
    if disabled:
        return DoctorRow("meter", meter.name, "off", disabled, "reload the extension to try it again")
    if availability is None:
        return DoctorRow("meter", meter.name, "error", "never probed", "reload the extension: %reload_ext nbprofile")
    if not availability.available:
        return DoctorRow("meter", meter.name, "unavailable", availability.detail, availability.fix)
    mode = str(getattr(meter, "mode", ""))
    if mode.startswith("estimat"):
        status = "estimate"
    elif mode == "sampled":
        status = "sampled"
    elif getattr(meter, "enabled", True) is False:
        status = "opt-in"
    else:
        status = "ok"
    return DoctorRow("meter", meter.name, status, availability.detail, availability.fix)


def _probe_and_close(meter: Meter) -> DoctorRow:
    try:
        availability = meter.probe()
    except Exception as exc:  # a broken probe is exactly what the doctor is for: report it, carry on
        return DoctorRow("meter", meter.name, "error", f"probe failed: {type(exc).__name__}: {exc}",
                         "report it with the output of `nbprofile doctor`; the other meters work without it")
    row = _meter_row(meter, availability, None)
    try:
        meter.close()
    except Exception as exc:  # same: the report matters more than the cleanup
        row = DoctorRow(row.section, row.name, row.status, f"{row.detail}; close failed: {exc!r}", row.fix)
    return row


# -- environment ----------------------------------------------------------------

def _environment(profiler: Profiler | None, carbon: CarbonConfig | None) -> list[DoctorRow]:
    rows = [_store_row(profiler), _clear_refs_row(), _rapl_row(), _nvml_row(), _torch_row(),
            _codecarbon_row(), _carbon_row(profiler, carbon), _prices_row(profiler)]
    return rows


def _env(name: str, status: str, detail: str, fix: str | None = None) -> DoctorRow:
    return DoctorRow("environment", name, status, detail, fix)


def _server_store_row(location: str, profiler: Profiler | None) -> DoctorRow:
    """A team store on a database server: reachable or not (a server has no file to look at)."""
    error = profiler.recorder.store_error if profiler is not None else None
    shown = masked(location)
    if error is None and (profiler is None or profiler.recorder.opened_store is None):
        try:  # only connecting tells whether the server is there and lets us in
            open_store(location, repair=False).close()
        except StoreError as exc:
            error = str(exc)
    if error is not None:
        return _env("store", "failing", f"{error} (records wait in the kernel's journal until it answers)",
                    f"start the server or fix {DB_ENV} ({shown})")
    lag = f"; {profiler.recorder.waiting()}" if profiler is not None else ""
    return _env("store", "ok", f"{shown} (database server, reachable){lag}")


def _store_row(profiler: Profiler | None) -> DoctorRow:
    store = profiler.recorder.opened_store if profiler is not None else None
    location = str(store.path) if store is not None else os.environ.get(DB_ENV, "")
    if scheme_of(location) in ("postgresql", "postgres"):
        return _server_store_row(location, profiler)
    error = profiler.recorder.store_error if profiler is not None else None
    path = Path(store.path) if store is not None else default_path()
    if profiler is None and ("://" in os.environ.get(DB_ENV, "") or path.exists()):
        try:  # an existing file may be locked or corrupt, a URL unsupported: only opening it tells
            open_store(repair=False).close()
        except StoreError as exc:
            error = str(exc)
    if error is not None:
        waiting = profiler.recorder.waiting() if profiler is not None else "no records waiting"
        return _env("store", "failing", f"{error}; {waiting} (the journal keeps them until a store "
                    "takes them, after this kernel too)",
                    f"repair or move the file, or set {DB_ENV}=<another path>")
    existing = path if path.exists() else next((p for p in path.parents if p.exists()), None)
    if existing is not None and os.access(existing, os.W_OK):
        state = "exists" if path.exists() else "will be created"
        lag = f"; {profiler.recorder.waiting()}" if profiler is not None else ""
        return _env("store", "ok", f"{path} ({state}, writable){lag}")
    return _env("store", "unavailable", f"{path} is not writable: records stay in memory",
                f"set {DB_ENV}=<a writable path>")


def _clear_refs_row() -> DoctorRow:
    try:
        fd = os.open(CLEAR_REFS, os.O_WRONLY)  # opened, not written: writing would reset the peak
    except OSError as exc:
        return _env("clear_refs", "unavailable", f"{CLEAR_REFS}: {exc.strerror or exc}: RAM peaks are sampled "
                    "every 10 ms", "Linux >= 4.0 outside gVisor-like sandboxes gives exact per-cell peaks")
    os.close(fd)
    return _env("clear_refs", "ok", f"{CLEAR_REFS} writable: exact per-cell RAM peaks")


def _rapl_row() -> DoctorRow:
    meter = CpuEnergyMeter(watch=False)
    try:
        meter.probe()
    except ValueError as exc:  # a bad NBPROFILE_CPU_TDP_W / _THREADS: the report says so, and goes on
        return _env("RAPL", "error", f"cannot probe CPU energy: {exc}",
                    "fix or unset NBPROFILE_CPU_TDP_W and NBPROFILE_CPU_THREADS")
    finally:
        meter.close()
    if meter.mode == "rapl":
        return _env("RAPL", "ok", meter.rapl_detail)
    return _env("RAPL", "unavailable", meter.rapl_detail, meter.rapl_fix)


def _nvml_row() -> DoctorRow:
    if importlib.util.find_spec("pynvml") is None:
        return _env("NVML", "unavailable", "nvidia-ml-py is not installed",
                    "pip install nvidia-ml-py (needs an NVIDIA GPU and driver)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # the deprecated PyPI `pynvml` shim warns on import
        import pynvml  # type: ignore[import-untyped]
    try:
        pynvml.nvmlInit()
    except (pynvml.NVMLError, OSError) as exc:
        return _env("NVML", "unavailable", f"nvmlInit failed: {exc}: no NVIDIA driver or GPU here",
                    "on a machine with an NVIDIA GPU, install its driver (libnvidia-ml.so)")
    try:
        count = pynvml.nvmlDeviceGetCount()
        driver = pynvml.nvmlSystemGetDriverVersion()
        names = [pynvml.nvmlDeviceGetName(pynvml.nvmlDeviceGetHandleByIndex(i)) for i in range(count)]
    except pynvml.NVMLError as exc:
        return _env("NVML", "unavailable", f"NVML started but failed: {exc}",
                    "check the driver with nvidia-smi; a driver newer than the kernel module needs a reboot")
    finally:
        pynvml.nvmlShutdown()
    return _env("NVML", "ok", f"driver {driver}, {count} GPU(s): {', '.join(map(str, names)) or 'none'}")


def _torch_row() -> DoctorRow:
    torch = sys.modules.get("torch")
    if torch is None:
        installed = importlib.util.find_spec("torch") is not None
        return _env("torch", "info", "installed, not imported in this process: GPU time, VRAM and FLOPs start "
                    "once a notebook imports it" if installed else "not installed: no GPU time, VRAM or FLOPs")
    cuda = torch.cuda.is_initialized()
    return _env("torch", "info", f"torch {torch.__version__} imported; CUDA "
                f"{'initialised' if cuda else 'not initialised (nbprofile never starts it)'}")


def _codecarbon_row() -> DoctorRow:
    table = load_table()
    where = codecarbon_data_dir()
    if not table.vendored:
        return _env("CodeCarbon data", "ok", f"{where} ({len(table.countries)} countries; CPU TDP table)")
    why = f" ({table.fallback_reason})" if table.fallback_reason else ""
    return _env("CodeCarbon data", "info", f"codecarbon not installed: the copies nbprofile ships ({table.path}"
                f"{why}, and its CPU TDP table)", "pip install codecarbon (read as data, never imported) for "
                "fresher tables")


def _carbon_row(profiler: Profiler | None, carbon: CarbonConfig | None) -> DoctorRow:
    config = carbon or (profiler.carbon if profiler is not None else None)
    try:
        if config is None:
            config = CarbonConfig.from_env()
        it = resolve(config)
    except ValueError as exc:
        return _env("carbon intensity", "error", str(exc), "%nbprofile carbon region=FRA")
    fix = "%nbprofile carbon region=<ISO-3> pue=<PUE>" if it.world_default else None
    return _env("carbon intensity", "info", it.describe(), fix)


def _prices_row(profiler: Profiler | None) -> DoctorRow:
    prices = profiler.prices if profiler is not None else None
    try:
        if prices is None:
            prices = ComputePrices.from_env()
    except ValueError as exc:
        return _env("prices", "error", str(exc), "fix or unset NBPROFILE_GPU_HOUR_USD and NBPROFILE_KWH_USD")
    kwh = prices.kwh_price()
    gpus = ", ".join(f"{p}=${usd:g}/h" for p, usd in prices.gpu_hour_usd) or "defaults by GPU model"
    detail = f"GPU-hour: {gpus}; electricity ${kwh.usd:g}/kWh ({kwh.origin})"
    fix = (None if kwh.usd != DEFAULT_KWH_USD or prices.gpu_hour_usd
           else "%nbprofile compute-price gpu_hour=<$/GPU-hour> kwh=<$/kWh>")
    return _env("prices", "info", detail, fix)
