"""Which notebook a headless kernel runs, when no Jupyter server named it.

A Jupyter server tells its kernels their notebook (``JPY_SESSION_NAME``), and
``nbprofile run`` does the same. ``jupyter nbconvert --execute``, ``jupyter execute``,
``papermill`` and plain nbclient scripts start the kernel themselves and say nothing:
the notebook is then the first ``.ipynb`` argument of the process that started the
kernel (its parent), resolved against that process's working directory. A script
that drives nbclient from Python can set ``NBPROFILE_NOTEBOOK`` before it starts the
kernel. Where neither gives a name, :func:`launcher_command` at least says what
started the kernel, so a run is never just "unnamed".
"""

from __future__ import annotations

import itertools
import os
import shlex
from pathlib import Path

#: the variable a script driving nbclient (or anything else) sets to name its notebook
NOTEBOOK_VARIABLE = "NBPROFILE_NOTEBOOK"

#: options whose value is where a tool writes the executed notebook, not the one it runs
#: (``jupyter nbconvert --execute --output out.ipynb in.ipynb``); papermill's output is its
#: second argument, after the input
OUTPUT_OPTIONS = frozenset({"--output", "-o", "--output-dir", "--output-path"})

#: how much of the parent's command line a run keeps (a long one is cut, never stored whole)
MAX_COMMAND_CHARS = 300


def _parent_command(pid: int) -> tuple[list[str], Path | None] | None:
    """The argv and working directory of process ``pid``; None where they cannot be read."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        cwd: Path | None = Path(os.readlink(f"/proc/{pid}/cwd"))
    except FileNotFoundError:  # not Linux (or the parent is gone): psutil, when installed
        return _parent_command_psutil(pid)
    except PermissionError:  # another user's process (a sudo'd launcher): nothing to read
        return None
    args = [part.decode(errors="surrogateescape") for part in raw.split(b"\0") if part]
    return args, cwd


def _parent_command_psutil(pid: int) -> tuple[list[str], Path | None] | None:
    try:
        import psutil  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        return None
    try:
        process = psutil.Process(pid)
        return process.cmdline(), Path(process.cwd())
    except (psutil.Error, OSError):  # gone, or not ours to read: no name rather than a wrong one
        return None


def notebook_from_launcher(ppid: int | None = None) -> str | None:
    """The notebook named by ``NBPROFILE_NOTEBOOK``, else the parent's first ``.ipynb`` argument."""
    named = os.environ.get(NOTEBOOK_VARIABLE)
    if named:
        return named
    found = _parent_command(os.getppid() if ppid is None else ppid)
    if found is None:
        return None
    args, cwd = found
    for before, arg in itertools.pairwise(args):
        if arg.endswith(".ipynb") and not arg.startswith("-") and before not in OUTPUT_OPTIONS:
            path = Path(arg)
            if not path.is_absolute() and cwd is not None:
                path = cwd / path
            return os.path.normpath(path)
    return None


def launcher_command(ppid: int | None = None) -> str | None:
    """The command line that started this process (``papermill in.ipynb out.ipynb``), cut to a
    readable length; None where it cannot be read."""
    found = _parent_command(os.getppid() if ppid is None else ppid)
    if found is None or not found[0]:
        return None
    args = list(found[0])
    args[0] = os.path.basename(args[0])
    if len(args) > 1 and args[0].startswith("python") and not args[1].startswith("-"):
        # `python /long/venv/bin/papermill …` reads as `python papermill …`
        args[1] = os.path.basename(args[1])
    text = shlex.join(args)
    return text if len(text) <= MAX_COMMAND_CHARS else text[: MAX_COMMAND_CHARS - 1] + "…"
