"""The riskiest contracts, each broken by a one-line change that at least one test must catch.

For every :data:`MUTATIONS` entry: copy the package and the tests to a temporary folder,
apply the change, run the tests named, and expect them to fail. A mutation they survive
is a contract nothing checks. ``tests/house/test_mutations.py`` runs this in CI;
``tests/README.md`` lists the pairs.

    python scripts/mutation_check.py            # every mutation
    python scripts/mutation_check.py escaping   # the ones whose name contains "escaping"
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutation:
    name: str  #: the contract it breaks
    path: str  #: the file, relative to the repository
    old: str  #: one line (or part of one) as it is
    new: str  #: what it becomes
    tests: tuple[str, ...]  #: test ids of which at least one must fail


MUTATIONS: tuple[Mutation, ...] = (
    Mutation("durability: a record reaches the journal only after its footer shows",
             "nbprofile/engine/recorder.py",
             "position = self._append(record_entry(record, ends_cell=ends_cell), record)",
             "position = -1  # kept in memory, written by the writer thread later",
             ("tests/kernel/test_durability.py::test_a_killed_kernel_leaves_exactly_the_completed_cells",)),
    Mutation("OOM guard: the cell's end does not wait for a look in progress", "nbprofile/engine/oom_guard.py",
             "        with self.lock:\n            self._armed.clear()\n            message",
             "        if True:\n            self._armed.clear()\n            message",
             ("tests/engine/test_oom_guard.py::test_no_interrupt_lands_after_the_cell_ended",)),
    Mutation("enforcement speed: the watchdog looks 5x less often", "nbprofile/engine/watchdog.py",
             "WATCH_INTERVAL_S = 0.05", "WATCH_INTERVAL_S = 0.25",
             ("tests/engine/test_interrupts.py::test_the_watchdog_looks_every_50_ms",)),
    Mutation("escaping: quotes left as they are in HTML attributes", "nbprofile/report/html_report.py",
             "esc = html.escape", "esc = lambda text: html.escape(text, quote=False)  # noqa: E731",
             ("tests/report/test_reports.py::test_html_attributes_cannot_be_broken_out_of",)),
    Mutation("interrupts: the hang guard swallows the user's Ctrl-C", "nbprofile/engine/windows.py",
             "if guard is None or guard.take_fire() is None:", "if guard is None:",
             ("tests/engine/test_interrupts.py::test_a_users_ctrl_c_during_a_meter_call_is_not_swallowed",)),
    Mutation("auth: a route without @authenticated", "nbprofile/server/handlers.py",
             "class RunsHandler(NbprofileHandler):\n    @tornado.web.authenticated\n",
             "class RunsHandler(NbprofileHandler):\n",
             ("tests/server/test_server.py::test_every_route_requires_auth",)),
    Mutation("path confinement: a notebook path may leave the server root", "nbprofile/server/handlers.py",
             "if os.path.commonpath([root, path]) != root:", "if False:",
             ("tests/server/test_server.py::test_bad_parameters_are_explained",)),
)


#: no change at all: the tests must pass on the copy, or a "caught" would prove nothing
CONTROL = Mutation("control: the unchanged copy", "nbprofile/__init__.py", '"""nbprofile: ', '"""nbprofile: ',
                   tuple(t for m in MUTATIONS for t in m.tests))


def mutated_copy(mutation: Mutation, where: Path) -> Path:
    """The package, its tests and pyproject.toml under ``where``, with ``mutation`` applied."""
    ignore = shutil.ignore_patterns("__pycache__", "labextension", "*.db")
    shutil.copytree(ROOT / "nbprofile", where / "nbprofile", ignore=ignore)
    shutil.copytree(ROOT / "tests", where / "tests", ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", where / "pyproject.toml")
    target = where / mutation.path
    text = target.read_text(encoding="utf-8")
    if text.count(mutation.old) != 1:
        raise AssertionError(f"{mutation.name}: {mutation.old!r} is not exactly once in {mutation.path}")
    target.write_text(text.replace(mutation.old, mutation.new), encoding="utf-8")
    return where


def survives(mutation: Mutation) -> tuple[bool, str]:
    """Run the mutation's tests against a mutated copy: (True, output) if they all still pass."""
    with tempfile.TemporaryDirectory(prefix="nbprofile-mutation-") as tmp:
        where = mutated_copy(mutation, Path(tmp))
        # the copy, not the installed package: it is first on the path of pytest and of the kernels it starts
        env = {**os.environ, "PYTHONPATH": str(where)}
        done = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *mutation.tests],
                              cwd=where, env=env, capture_output=True, text=True, timeout=600)
    return done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


def main(selection: list[str]) -> int:
    survived, output = survives(CONTROL)
    if not survived:
        print(f"the tests fail on an unchanged copy: nothing below would mean anything\n{output}")
        return 2
    chosen = [m for m in MUTATIONS if not selection or any(s in m.name for s in selection)]
    survivors = 0
    for mutation in chosen:
        survived, output = survives(mutation)
        survivors += survived
        print(f"{'SURVIVED' if survived else 'caught  '}  {mutation.name}")
        if survived:
            print(output)
    print(f"{len(chosen) - survivors} of {len(chosen)} mutations caught")
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
