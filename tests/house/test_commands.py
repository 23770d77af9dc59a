"""Every command a message, a fix or the docs name exists, and ``%nbprofile?`` is made from the parsers."""

from __future__ import annotations

import re
from pathlib import Path

from nbprofile.cli.main import build_parser
from nbprofile.ipython.commands import COMMANDS
from nbprofile.ipython.magics import NbprofileMagics

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [p for p in (ROOT / "nbprofile").rglob("*.py") if "labextension" not in p.parts]
DOCS = [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]
MAGIC = re.compile(r"%nbprofile ([a-z][a-z_-]*)")
CLI = re.compile(r"`nbprofile ([a-z][a-z_-]*)")


def _cli_commands() -> set[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return set(sub.choices)  # type: ignore[arg-type]


def test_help_lists_every_subcommand_with_its_parsers_usage() -> None:
    doc = NbprofileMagics.nbprofile.__doc__ or ""
    for name, command in COMMANDS.items():
        assert command.usage.startswith(f"%nbprofile {name}")
        assert command.usage in doc and command.summary in doc, name
    assert "%nbprofile report [--run ID | --compare A B] [--format {html,md,json,csv}]" in doc


def test_every_magic_command_named_anywhere_exists() -> None:
    named = {(m.group(1), str(p.relative_to(ROOT))) for p in [*SOURCES, *DOCS]
             for m in MAGIC.finditer(p.read_text(encoding="utf-8"))}
    assert len(named) > 20
    assert sorted((word, where) for word, where in named if word not in COMMANDS) == []


def test_every_cli_command_named_anywhere_exists() -> None:
    commands = _cli_commands()
    named = {(m.group(1), str(p.relative_to(ROOT))) for p in [*SOURCES, *DOCS]
             for m in CLI.finditer(p.read_text(encoding="utf-8"))}
    assert len(named) > 5
    assert sorted((word, where) for word, where in named if word not in commands) == []
