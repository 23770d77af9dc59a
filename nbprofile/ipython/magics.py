"""``%nbprofile`` (control and inspection) and ``%%budget`` (limits for one cell).

Misuse is a one-line :class:`~IPython.core.error.UsageError` (no traceback)
that says what would be right; nothing is changed by a command that fails.
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Any, Callable, NoReturn

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import MagicArgumentParser

if TYPE_CHECKING:
    from nbprofile.profiler import Profiler

SUBCOMMANDS = ("on", "off", "status", "footer", "history", "last", "budget", "report", "doctor",
               "carbon", "flops", "compute-price", "price", "llm")


class _Parser(MagicArgumentParser):
    """One-line errors that name the command and where its usage is."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}; see %nbprofile? for its usage")


def _parser(prog: str, description: str) -> MagicArgumentParser:
    return _Parser(prog=f"%nbprofile {prog}", description=description, add_help=False)


def parse_duration(text: str) -> float:
    """``500ms`` / ``0.5s`` / ``2min`` → seconds, with the budget grammar's units."""
    from nbprofile.budget_grammar import BudgetSyntaxError, parse_limit

    try:
        return parse_limit(f"time<={text}").value
    except BudgetSyntaxError as exc:
        raise UsageError(f"bad duration {text!r}: {str(exc).split(': ', 1)[-1]}") from None


@magics_class
class NbprofileMagics(Magics):
    """The magics of one :class:`~nbprofile.profiler.Profiler`."""

    def __init__(self, shell: Any, profiler: Profiler) -> None:
        super().__init__(shell)
        self.profiler = profiler
        self._commands: dict[str, Callable[[list[str]], Any]] = {
            "on": self._on, "off": self._off, "status": self._status, "footer": self._footer,
            "history": self._history, "last": self._last, "budget": self._budget,
            "report": self._report, "doctor": self._doctor, "carbon": self._carbon,
            "flops": self._flops, "compute-price": self._compute_price,
            "price": self._price, "llm": self._llm,
        }

    @line_magic
    def nbprofile(self, line: str) -> Any:
        """Control nbprofile, which measures every cell of this kernel.

        Usage::

          %nbprofile status                 what is measured here, and how
          %nbprofile on | off               switch measuring on or off
          %nbprofile footer compact|full|off [--quiet-below 0.5s]
          %nbprofile history [N] [--run]    the last N records of this notebook (default 20)
          %nbprofile last                   every reading of the previous cell
          %nbprofile budget LIMIT ...       a budget for the running totals of this session
          %nbprofile report [--run ID | --compare A B] [--format html|md|json|csv] [PATH]
                                            export this kernel's run (or another, or a comparison)
          %nbprofile doctor                 every meter: does it work here, and if not, why and the fix
          %nbprofile carbon [region=FRA] [pue=1.2] [intensity=56]
                                            where the energy comes from (CO2e per kWh)
          %nbprofile flops on | off         count FLOPs (torch) and compute MFU; slows the cell
          %nbprofile compute-price [gpu_hour=3.0] [gpu:H100=2.5] [kwh=0.15]
                                            the prices behind compute dollars
          %nbprofile price [MODEL [input=2.5 output=10 cached_input=1.25 cache_write=3.75 | off]]
                                            LLM prices, $ per 1M tokens (your own override the table)
          %nbprofile llm include_usage on | off
                                            ask OpenAI streams for their token usage
        """
        try:
            words = shlex.split(line)
        except ValueError as exc:
            raise UsageError(f"%nbprofile: {exc}") from None
        if not words:
            words = ["status"]
        command = self._commands.get(words[0])
        if command is None:
            raise UsageError(
                f"%nbprofile: unknown command {words[0]!r}; use one of: {', '.join(SUBCOMMANDS)}"
            )
        return command(words[1:])

    # -- subcommands ---------------------------------------------------------
    def _no_args(self, name: str, args: list[str]) -> None:
        if args:
            raise UsageError(f"%nbprofile {name} takes no arguments (got {' '.join(args)!r})")

    def _on(self, args: list[str]) -> None:
        self._no_args("on", args)
        self.profiler.enabled = True
        print("nbprofile: measuring every cell")

    def _off(self, args: list[str]) -> None:
        self._no_args("off", args)
        self.profiler.enabled = False
        print("nbprofile: measuring is off; %nbprofile on to resume")

    def _status(self, args: list[str]) -> Any:
        self._no_args("status", args)
        from nbprofile.status import StatusReport

        return StatusReport.of(self.profiler)

    def _footer(self, args: list[str]) -> None:
        parser = _parser("footer", "How the footer under each cell looks.")
        parser.add_argument("mode", choices=("compact", "full", "off"))
        parser.add_argument("--quiet-below", metavar="DURATION", default=None,
                            help="no footer for cells faster than this (e.g. 0.5s)")
        opts = parser.parse_args(args)
        quiet = parse_duration(opts.quiet_below) if opts.quiet_below is not None else None
        self.profiler.footer_mode = opts.mode
        if quiet is not None:
            self.profiler.quiet_below_s = quiet

    def _history(self, args: list[str]) -> Any:
        parser = _parser("history", "Stored records of this notebook, oldest first.")
        parser.add_argument("n", nargs="?", type=int, default=20)
        parser.add_argument("--run", action="store_true", help="only this kernel's run")
        opts = parser.parse_args(args)
        if opts.n <= 0:
            raise UsageError("%nbprofile history: N must be a positive number of records")
        from nbprofile.display import RecordTable

        records, title = self._records(opts.n, opts.run)
        return RecordTable(records, title)

    def _records(self, n: int, run_only: bool) -> tuple[list[Any], str]:
        profiler = self.profiler
        store = profiler.store
        if store is None:
            records = profiler.unsaved[-n:]
            return records, "nbprofile history (not stored: the store is unavailable)"
        if run_only or profiler.notebook is None:
            records = store.history(None, n, run_id=profiler.run.run_id)
            return records, f"nbprofile history of this run ({profiler.run.run_id})"
        records = store.history(profiler.notebook, n)
        return records, f"nbprofile history of {profiler.notebook}"

    def _last(self, args: list[str]) -> Any:
        self._no_args("last", args)
        from nbprofile.display import RecordDetail

        record = self.profiler.last_record
        if record is None:
            records, _ = self._records(1, False)
            record = records[-1] if records else None
        if record is None:
            print("nbprofile: no cell has been measured yet")
            return None
        return RecordDetail(record)

    def _report(self, args: list[str]) -> Any:
        parser = _parser("report", "Export a run as HTML, Markdown, JSON or CSV.")
        pick = parser.add_mutually_exclusive_group()
        pick.add_argument("--run", default=None, help="run id, latest or previous (default: this run)")
        pick.add_argument("--compare", nargs=2, metavar=("A", "B"))
        parser.add_argument("--format", "-f", choices=("html", "md", "json", "csv"), default=None)
        parser.add_argument("-o", "--output", default=None)
        parser.add_argument("path", nargs="?", default=None, help="same as -o")
        opts = parser.parse_args(args)
        if opts.path is not None and opts.output is not None:
            raise UsageError("%nbprofile report: give the output path once, as PATH or -o PATH")
        opts.output = opts.output or opts.path
        from nbprofile.errors import NbprofileError
        from nbprofile.selection import write_report

        profiler = self.profiler
        store = profiler.store
        if store is None:
            raise UsageError("%nbprofile report: the record store is unavailable (see %nbprofile status)")
        profiler.flush(force=True)
        run = opts.run or profiler.run.run_id
        compare = tuple(opts.compare) if opts.compare else None
        # a run's row is stored with its first record
        if opts.run is None and compare is None and store.run(run) is None:
            raise UsageError("%nbprofile report: this kernel has recorded no cell yet; run one first, "
                             "or pick an earlier run with --run latest")
        try:
            path, fmt = write_report(store, opts.format, opts.output, run, compare,  # type: ignore[arg-type]
                                     profiler.notebook)
        except OSError as exc:
            raise UsageError(f"%nbprofile report: cannot write {exc.filename or opts.output}: "
                             f"{exc.strerror or exc}; choose a writable path") from None
        except NbprofileError as exc:
            raise UsageError(f"%nbprofile report: {exc}") from None
        from IPython.display import FileLink

        print(f"nbprofile: wrote {fmt} report to {path}")
        return FileLink(path)

    def _doctor(self, args: list[str]) -> Any:
        self._no_args("doctor", args)
        from nbprofile.doctor import run_doctor

        return run_doctor(self.profiler, carbon=self.profiler.carbon)

    def _setting(self, command: str, attr: str, args: list[str], parse: Callable[[list[str], Any], Any]) -> Any:
        """Change one of the profiler's settings from ``key=value`` words (if any); return it.
        A bad word is a one-line UsageError and the setting is left as it was."""
        if args:
            try:
                setattr(self.profiler, attr, parse(args, getattr(self.profiler, attr)))
            except ValueError as exc:
                raise UsageError(f"%nbprofile {command}: {exc}") from None
            self.profiler.rebuild_derivers()
        return getattr(self.profiler, attr)

    def _carbon(self, args: list[str]) -> None:
        from nbprofile.carbon import parse_carbon_args, resolve

        carbon = self._setting("carbon", "carbon", args, parse_carbon_args)
        print(f"nbprofile: carbon intensity {resolve(carbon).describe()}")

    def _flops(self, args: list[str]) -> None:
        parser = _parser("flops", "Count FLOPs with torch's FlopCounterMode (slows the cell).")
        parser.add_argument("state", choices=("on", "off"))
        opts = parser.parse_args(args)
        from nbprofile.assembly import find_meter
        from nbprofile.meters.flops import FlopMeter

        meter = find_meter(self.profiler, FlopMeter)
        if meter is None:
            raise UsageError("%nbprofile flops: this profiler has no FLOP meter")
        meter.enabled = opts.state == "on"
        note = " (cells run slower while counting)" if meter.enabled else ""
        print(f"nbprofile: FLOP counting {opts.state}{note}")

    def _compute_price(self, args: list[str]) -> None:
        from nbprofile.compute_cost import parse_price_args

        prices = self._setting("compute-price", "prices", args, parse_price_args)
        print(f"nbprofile: compute prices {prices!r}")

    def _price(self, args: list[str]) -> None:
        from nbprofile import llm

        if not args:
            print("\n".join(llm.status_lines()))
            return
        if len(args) == 1:
            print(llm.describe_price(args[0]))
            return
        if len(args) == 2 and args[1] == "off":
            llm.clear_price(args[0])
            print(f"nbprofile: {args[0]} is priced by the table again")
            return
        try:
            model, prices = llm.parse_price_args(args)
            llm.PRICES.set(model, **prices)
        except ValueError as exc:
            raise UsageError(f"%nbprofile price: {exc}") from None
        print(llm.describe_price(model))

    def _llm(self, args: list[str]) -> None:
        from nbprofile import llm

        if not args:
            print("\n".join(llm.status_lines()))
            return
        if len(args) != 2 or args[0] != "include_usage" or args[1] not in ("on", "off"):
            raise UsageError("%nbprofile llm: use `%nbprofile llm include_usage on` or `... off`")
        llm.set_include_usage(args[1] == "on")
        state = "adds stream_options.include_usage to OpenAI streams" if args[1] == "on" else \
            "leaves OpenAI streams as they are (their tokens are unavailable without usage)"
        print(f"nbprofile: {state}")

    def _budget(self, args: list[str]) -> Any:
        from nbprofile.budget_runtime import session_budget_command

        return session_budget_command(self.profiler, args)

    @cell_magic
    def budget(self, line: str, cell: str) -> Any:
        """Run the cell under limits and judge it: ``%%budget time<=30s vram<=8GiB``.

        Options: ``--strict`` (raise BudgetExceeded after the cell if a limit
        failed, so Run All stops), ``--enforce`` (stop the cell as soon as a
        limit that can be watched live is crossed), ``--name NAME``.
        """
        __tracebackhide__ = True  # the user's traceback starts at their own code
        from nbprofile.budget_runtime import run_budget_cell

        return run_budget_cell(self.profiler, self.shell, line, cell)
