"""The ``%nbprofile`` subcommands: each one a parser and a function, listed once in :data:`COMMANDS`.

The parsers make the usage lines of ``%nbprofile?`` and of every usage error, so
what the help says and what a command takes cannot drift apart. Misuse is a
one-line ``UsageError`` that says what would be right; a command that fails
changes nothing.

What only one command needs (the budget grammar, the doctor, report writing, the
status page) is imported when that command first runs: ``%load_ext`` stays fast.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from IPython.core.error import UsageError
from IPython.core.magic_arguments import MagicArgumentParser

from nbprofile import llm
from nbprofile.budgets.limits import BudgetSyntaxError
from nbprofile.derive.carbon import parse_carbon_args, resolve
from nbprofile.derive.cost import parse_price_args
from nbprofile.engine.live import LIVE_AFTER_S
from nbprofile.engine.oom_guard import OomGuard
from nbprofile.errors import NbprofileError
from nbprofile.ipython.hooks import CellHooks
from nbprofile.report.compare import is_own_magic
from nbprofile.meters.flops import FlopMeter
from nbprofile.record import CellRecord
from nbprofile.report import registry
from nbprofile.report.tables import RecordDetail, RecordTable


class _Parser(MagicArgumentParser):
    """One-line errors that name the command and where its usage is."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}; see %nbprofile? for its usage")


@dataclass(frozen=True)
class Command:
    name: str
    parser: _Parser
    run: Callable[[CellHooks, argparse.Namespace], Any]
    #: a command whose words follow a grammar of its own (limits, key=value prices): they reach
    #: it as they are, under this name, and its parser only describes them
    words: str | None = None

    @property
    def usage(self) -> str:
        return " ".join(self.parser.format_usage().split())[len("usage: "):]

    @property
    def summary(self) -> str:
        return self.parser.description or ""

    def __call__(self, hooks: CellHooks, args: list[str]) -> Any:
        if args and self.usage == f"%nbprofile {self.name}":  # a command that takes nothing
            raise UsageError(f"%nbprofile {self.name} takes no arguments (got {' '.join(args)!r})")
        if self.words is not None:
            return self.run(hooks, argparse.Namespace(**{self.words: args}))
        return self.run(hooks, self.parser.parse_args(args))


def _parser(name: str, summary: str) -> _Parser:
    # argparse's own formatter: IPython's MagicHelpFormatter adds a '%' and reST markup of its own
    return _Parser(prog=f"%nbprofile {name}", description=summary, add_help=False,  # type: ignore[no-untyped-call]
                   formatter_class=argparse.HelpFormatter)


#: the largest count any ``%nbprofile`` argument takes: more records than a table can show, and
#: within what SQLite's LIMIT accepts (a larger int raises OverflowError deep in the store)
MAX_COUNT = 1_000_000


def _count(text: str) -> int:
    """The type of every int argument: a whole number of at most :data:`MAX_COUNT` (the command
    checks its own lower bound, so that it can say what the number means)."""
    digits = text.strip().lstrip("+-")
    if not digits.isdigit() or not digits.isascii():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number")
    if len(digits) > len(str(MAX_COUNT)) or abs(int(text)) > MAX_COUNT:  # no int() of 5000 digits
        raise argparse.ArgumentTypeError(f"{text.strip()} is out of range: use a whole number up to "
                                         f"{MAX_COUNT:,}")
    return int(text)


def parse_duration(text: str) -> float:
    """``500ms`` / ``0.5s`` / ``2min`` → seconds, with the budget grammar's units."""
    from nbprofile.budgets.grammar import parse_limit

    try:
        return parse_limit(f"time<={text}").value
    except BudgetSyntaxError as exc:
        raise UsageError(f"bad duration {text!r}: {str(exc).split(': ', 1)[-1]}") from None


# -- the commands ---------------------------------------------------------------

def _on(hooks: CellHooks, opts: argparse.Namespace) -> None:
    hooks.enabled = True
    print("nbprofile: measuring every cell")


def _off(hooks: CellHooks, opts: argparse.Namespace) -> None:
    hooks.enabled = False
    print("nbprofile: measuring is off; %nbprofile on to resume")


def _status(hooks: CellHooks, opts: argparse.Namespace) -> Any:
    from nbprofile.ipython.status import StatusReport

    return StatusReport.of(hooks)


def _footer(hooks: CellHooks, opts: argparse.Namespace) -> None:
    quiet = parse_duration(opts.quiet_below) if opts.quiet_below is not None else None
    hooks.footer_mode = opts.mode
    if quiet is not None:
        hooks.quiet_below_s = quiet


#: how many more records history reads to find N of the user's own among nbprofile's magic cells
_OWN_CELLS_SLACK = 4


def _records(hooks: CellHooks, n: int, run_only: bool, own: bool = False) -> tuple[list[CellRecord], str]:
    """The last ``n`` records of this notebook (or run); nbprofile's own magic cells (this
    very ``%nbprofile history`` among them) only with ``own``."""
    profiler = hooks.profiler
    store = profiler.recorder.store
    wanted = n if own else n * _OWN_CELLS_SLACK
    if store is None or not profiler.recorder.sync():
        found, title = profiler.recorder.unsaved[-wanted:], "nbprofile history (not stored: the store is unavailable)"
    elif run_only or profiler.notebook is None:
        found = store.history(None, wanted, run_id=profiler.run.run_id)
        title = f"nbprofile history of this run ({profiler.run.run_id})"
    else:
        found, title = store.history(profiler.notebook, wanted), f"nbprofile history of {profiler.notebook}"
    if not own:
        found = [r for r in found if not is_own_magic(r.source)]
    return found[-n:], title


def _history(hooks: CellHooks, opts: argparse.Namespace) -> RecordTable:
    if opts.n <= 0:
        raise UsageError("%nbprofile history: N must be a positive number of records")
    records, title = _records(hooks, opts.n, opts.run, opts.all)
    return RecordTable(records, title)


def _last(hooks: CellHooks, opts: argparse.Namespace) -> RecordDetail | None:
    record = hooks.last_user_record  # the user's last cell, not a magic nbprofile cell run since
    if record is None:
        records, _ = _records(hooks, 1, False)
        record = records[-1] if records else None
    if record is None:
        print("nbprofile: no cell has been measured yet")
        return None
    return RecordDetail(record)


def _budget(hooks: CellHooks, opts: argparse.Namespace) -> None:
    args: list[str] = opts.limits
    if args == ["off"]:
        hooks.session_budget = None
        print("nbprofile: session budget cleared")
        return
    if not args:
        budget = hooks.session_budget
        if budget is None:
            print("nbprofile: no session budget; set one with %nbprofile budget energy<=100Wh cost<=$5")
        else:
            print("\n".join(["nbprofile session budget:", *(f"  {s}" for s in budget.status_lines())]))
        return
    from nbprofile.budgets.grammar import parse_budget, parse_limits
    from nbprofile.budgets.session import SessionBudget

    try:  # the same line grammar as %%budget, so `time<=3 parsecs` reads the same here
        spec = parse_budget(" ".join(args))
        if spec.enforce or spec.strict or spec.name:
            raise BudgetSyntaxError("--enforce, --strict and --name apply to %%budget cells, "
                                    "not to session budgets")
        limits = parse_limits([limit.text for limit in spec.limits], allow_relative=False)
        hooks.session_budget = SessionBudget(limits)
    except BudgetSyntaxError as exc:
        raise UsageError(f"%nbprofile budget: {exc}") from None
    print(f"nbprofile: session budget {' '.join(limit.text for limit in limits)} "
          "(warns at 80%, reports every breach)")


def _report(hooks: CellHooks, opts: argparse.Namespace) -> Any:
    if opts.path is not None and opts.output is not None:
        raise UsageError("%nbprofile report: give the output path once, as PATH or -o PATH")
    output = opts.output or opts.path
    try:
        registry.choose(opts.format, output)  # a path no format writes is refused before anything else
    except NbprofileError as exc:
        raise UsageError(f"%nbprofile report: {exc}") from None
    profiler = hooks.profiler
    store = profiler.recorder.store
    if store is None:
        raise UsageError("%nbprofile report: the record store is unavailable (see %nbprofile status)")
    profiler.recorder.sync(force=True)
    run = opts.run or profiler.run.run_id
    compare = tuple(opts.compare) if opts.compare else None
    if opts.run is None and compare is None and store.run(run) is None:  # a run's row comes with its first record
        raise UsageError("%nbprofile report: this kernel has recorded no cell yet; run one first, "
                         "or pick an earlier run with --run latest")
    from nbprofile.report.write import write_report

    try:
        path, fmt = write_report(store, opts.format, output, run, compare, profiler.notebook)
    except OSError as exc:
        raise UsageError(f"%nbprofile report: cannot write {exc.filename or output}: "
                         f"{exc.strerror or exc}; choose a writable path") from None
    except NbprofileError as exc:
        raise UsageError(f"%nbprofile report: {exc}") from None
    from IPython.display import FileLink

    print(f"nbprofile: wrote {fmt} report to {path}")
    return FileLink(path)  # type: ignore[no-untyped-call]


def _doctor(hooks: CellHooks, opts: argparse.Namespace) -> Any:
    from nbprofile.engine.doctor import run_doctor

    return run_doctor(hooks.profiler, carbon=hooks.profiler.carbon)


def _setting(command: str, change: Callable[[], None]) -> None:
    """Apply ``key=value`` words to a setting; a bad one is a one-line UsageError and changes nothing."""
    try:
        change()
    except ValueError as exc:
        raise UsageError(f"%nbprofile {command}: {exc}") from None


def _carbon(hooks: CellHooks, opts: argparse.Namespace) -> None:
    profiler = hooks.profiler
    if opts.settings:
        _setting("carbon", lambda: profiler.set_carbon(parse_carbon_args(opts.settings, profiler.carbon)))
    print(f"nbprofile: carbon intensity {resolve(profiler.carbon).describe()}")


def _flops(hooks: CellHooks, opts: argparse.Namespace) -> None:
    meter = hooks.profiler.windows.find(FlopMeter)
    if not isinstance(meter, FlopMeter):
        raise UsageError("%nbprofile flops: this profiler has no FLOP meter")
    meter.enabled = opts.state == "on"
    note = " (cells run slower while counting)" if meter.enabled else ""
    print(f"nbprofile: FLOP counting {opts.state}{note}")


def _compute_price(hooks: CellHooks, opts: argparse.Namespace) -> None:
    profiler = hooks.profiler
    if opts.settings:
        _setting("compute-price", lambda: profiler.set_prices(parse_price_args(opts.settings, profiler.prices)))
    print(f"nbprofile: compute prices: {profiler.prices.describe()}")


def _price(hooks: CellHooks, opts: argparse.Namespace) -> None:
    args: list[str] = opts.args
    if not args:
        print("\n".join(llm.status_lines()))
    elif len(args) == 1:
        print(llm.describe_price(args[0]))
    elif len(args) == 2 and args[1] == "off":
        llm.clear_price(args[0])
        print(f"nbprofile: {args[0]} is priced by the table again")
    else:
        try:
            model, prices = llm.parse_price_args(args)
            llm.PRICES.set(model, **prices)
        except ValueError as exc:
            raise UsageError(f"%nbprofile price: {exc}") from None
        print(llm.describe_price(model))


def _llm(hooks: CellHooks, opts: argparse.Namespace) -> None:
    if opts.setting is None:
        print("\n".join(llm.status_lines()))
        return
    if opts.state is None:
        raise UsageError("%nbprofile llm: use `%nbprofile llm include_usage on` or `... off`")
    llm.set_include_usage(opts.state == "on")
    state = ("adds stream_options.include_usage to OpenAI streams" if opts.state == "on" else
             "leaves OpenAI streams as they are (their tokens are unavailable without usage)")
    print(f"nbprofile: {state}")


def _oom_guard(hooks: CellHooks, opts: argparse.Namespace) -> None:
    guard: OomGuard | None = getattr(hooks.profiler, "oom_guard", None)  # None: a profiler made without one
    if guard is None:
        raise UsageError("%nbprofile oom-guard: this profiler has no OOM guard")
    if opts.settings:
        _setting("oom-guard", lambda: guard.configure(opts.settings))
    print(f"nbprofile: OOM guard {guard.describe()}")


def _hotspots(hooks: CellHooks, opts: argparse.Namespace) -> None:
    sampler = hooks.profiler.hotspots
    if opts.state is not None:
        sampler.enabled = opts.state == "on"
    state = "on" if sampler.enabled else "off"
    print(f"nbprofile: hot spots {state}: cells running over {sampler.threshold_s:g} s are sampled "
          f"{round(1 / sampler.interval_s)} times a second (a cell with `# nbprofile: no-hotspots` is not)")


def _live(hooks: CellHooks, opts: argparse.Namespace) -> None:
    live = hooks.profiler.live
    if opts.state == "on":
        live.listener = hooks.live
    elif opts.state == "off":
        live.listener = None
    state = "on" if live.listener is not None else "off"
    print(f"nbprofile: live numbers {state}: a cell running over {LIVE_AFTER_S:g} s shows its numbers so far, "
          "and where its progress bar says it will end")


def _commands() -> dict[str, Command]:
    made: list[Command] = []

    def add(name: str, summary: str, run: Callable[[CellHooks, argparse.Namespace], Any],
            words: str | None = None) -> _Parser:
        parser = _parser(name, summary)
        made.append(Command(name, parser, run, words))
        return parser

    add("on", "switch measuring on", _on)
    add("off", "switch measuring off", _off)
    add("status", "what is measured here, and how; where records go", _status)
    footer = add("footer", "how the footer under each cell looks", _footer)
    footer.add_argument("mode", choices=("compact", "full", "off"))
    footer.add_argument("--quiet-below", metavar="DURATION", default=None,
                        help="no footer for cells faster than this (e.g. 0.5s)")
    history = add("history", "the last N records of this notebook (default 20), oldest first", _history)
    history.add_argument("n", nargs="?", type=_count, default=20, metavar="N")
    history.add_argument("--run", action="store_true", help="only this kernel's run")
    history.add_argument("--all", action="store_true", help="with the cells that ran nbprofile's own magics")
    add("last", "every reading of the previous cell, with its method", _last)
    budget = add("budget", "a budget on the running totals of this session (off clears it)", _budget, "limits")
    budget.add_argument("limits", nargs="*", metavar="LIMIT")
    report = add("report", "export this kernel's run (or another, or a comparison of two)", _report)
    pick = report.add_mutually_exclusive_group()
    pick.add_argument("--run", default=None, metavar="ID", help="run id, latest or previous (default: this run)")
    pick.add_argument("--compare", nargs=2, metavar=("A", "B"), help="run B compared with run A")
    report.add_argument("--format", "-f", choices=registry.NAMES, default=None)
    report.add_argument("-o", "--output", default=None, metavar="PATH")
    report.add_argument("path", nargs="?", default=None, metavar="PATH", help="same as -o")
    add("doctor", "every meter: does it work here, and if not, why and the fix", _doctor)
    carbon = add("carbon", "where the energy comes from (CO2e per kWh)", _carbon, "settings")
    carbon.add_argument("settings", nargs="*", metavar="region=FRA|pue=1.2|intensity=56")
    flops = add("flops", "count FLOPs (torch) and compute MFU; slows the cell", _flops)
    flops.add_argument("state", choices=("on", "off"))
    price = add("compute-price", "the prices behind compute dollars", _compute_price, "settings")
    price.add_argument("settings", nargs="*", metavar="gpu_hour=3.0|gpu:H100=2.5|kwh=0.15")
    llm_price = add("price", "LLM prices, $ per 1M tokens (your own override the table)", _price, "args")
    llm_price.add_argument("args", nargs="*", metavar="MODEL [input=2.5 output=10 cached_input=1.25 "
                                                      "cache_write=3.75 | off]")
    llm_switch = add("llm", "ask OpenAI streams for their token usage", _llm)
    llm_switch.add_argument("setting", nargs="?", choices=("include_usage",))
    llm_switch.add_argument("state", nargs="?", choices=("on", "off"))
    oom = add("oom-guard", "stop a cell, as Ctrl-C would, before the kernel runs out of memory",
              _oom_guard, "settings")
    oom.add_argument("state", nargs="?", choices=("on", "off"))
    oom.add_argument("limit", nargs="?", metavar="limit=SIZE")
    oom.add_argument("at", nargs="?", metavar="at=PCT%")
    hot = add("hotspots", "where a long cell's time goes: sample its stack (on by default)", _hotspots)
    hot.add_argument("state", nargs="?", choices=("on", "off"))
    live = add("live", "a long cell's numbers while it runs, and its projection (on by default)", _live)
    live.add_argument("state", nargs="?", choices=("on", "off"))
    return {c.name: c for c in made}


#: every subcommand, in the order ``%nbprofile?`` lists them
COMMANDS: dict[str, Command] = _commands()


def help_text() -> str:
    """The usage of every subcommand, from its parser: ``%nbprofile?`` shows it."""
    return "\n".join(f"  {c.usage}\n      {c.summary}" for c in COMMANDS.values())
