"""``%nbprofile status``: what this profiler measures here, how, and where it stores it."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from nbprofile.ipython.hooks import CellHooks


@dataclass
class StatusReport:
    state: str
    lines: list[tuple[str, str]]  # (label, detail)
    meters: list[tuple[str, str, str]]  # (meter, state, detail)

    @classmethod
    def of(cls, hooks: CellHooks) -> StatusReport:
        profiler = hooks.profiler
        store = profiler.recorder.store
        error, waiting = profiler.recorder.store_error, profiler.recorder.waiting()
        if store is not None and error is None:
            where = f"{store.path} ({waiting})"
        elif store is not None:
            where = f"{store.path}: failing ({error}); {waiting}"
        else:
            where = f"unavailable ({error}); {waiting}"
        lines = [
            ("run", profiler.run.run_id),
            ("notebook", profiler.notebook or "(unknown: not started by a Jupyter server)"),
            ("store", where),
            ("footer", hooks.footer_mode + (
                f", quiet below {hooks.quiet_below_s:g} s" if hooks.quiet_below_s else "")),
        ]
        if (guard := getattr(profiler, "oom_guard", None)) is not None:  # a profiler may be made without one
            lines.append(("OOM guard", guard.describe()))
        meters = []
        windows = profiler.windows
        for meter in windows.meters:
            availability = windows.availability[meter.name]
            if meter.name in windows.disabled:
                meters.append((meter.name, "off", windows.disabled[meter.name]))
            elif availability.available:
                meters.append((meter.name, "on", availability.detail))
            else:
                fix = f" (fix: {availability.fix})" if availability.fix else ""
                meters.append((meter.name, "unavailable", availability.detail + fix))
        state = "measuring every cell" if hooks.enabled else "off (%nbprofile on to resume)"
        return cls(state, lines, meters)

    def __repr__(self) -> str:
        out = [f"nbprofile: {self.state}"]
        out += [f"  {label}: {detail}" for label, detail in self.lines]
        out.append("  meters:")
        width = max((len(m) for m, _, _ in self.meters), default=0)
        out += [f"    {m:<{width}}  {state:<11}  {detail}" for m, state, detail in self.meters]
        return "\n".join(out)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(repr(self))

    def _repr_html_(self) -> str:
        esc = html.escape
        lines = "".join(f"<li>{esc(label)}: {esc(detail)}</li>" for label, detail in self.lines)
        rows = "".join(
            f"<tr><td>{esc(m)}</td><td>{esc(s)}</td><td>{esc(d)}</td></tr>" for m, s, d in self.meters
        )
        return (
            f"<div class=\"nbprofile-status\"><b>nbprofile: {esc(self.state)}</b><ul>{lines}</ul>"
            f"<table><thead><tr><th>meter</th><th>state</th><th>how / why not</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></div>"
        )
