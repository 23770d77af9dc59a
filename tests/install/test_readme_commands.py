"""The README's first command, exactly as written, on a fresh copy of the repository in a new venv:
it installs nbprofile and profiles the example notebook. (The second command, `bash scripts/test.sh`,
is what CI runs: this suite.)"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def readme_commands() -> list[str]:
    """The bash blocks of the README's "Two commands for a fresh machine" section, in order."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Two commands for a fresh machine", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", section, re.DOTALL)]


def fresh_copy(where: Path) -> Path:
    """What a fresh clone has: the committed tree, without this checkout's builds, venvs or edits."""
    where.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", "--format=tar", "HEAD"], cwd=ROOT, capture_output=True,
                             check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(where)], input=archive, check=True)
    return where


def test_the_readme_install_and_profile_command_works_on_a_fresh_copy(tmp_path: Path) -> None:
    commands = readme_commands()
    assert len(commands) == 2 and commands[1] == "bash scripts/test.sh", commands
    if shutil.which("node") is None:
        pytest.skip("the README's install builds the panel with Node.js, which this machine lacks")
    repo = fresh_copy(tmp_path / "nbprofile")
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["NBPROFILE_DB"] = str(tmp_path / "records.db")
    env["JUPYTER_DATA_DIR"] = str(tmp_path / "jupyter-data")
    done = subprocess.run(["bash", "-c", commands[0]], cwd=repo, env=env, capture_output=True, text=True,
                          timeout=1800)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    assert (tmp_path / "records.db").exists()
    count = subprocess.run([str(repo / ".venv" / "bin" / "nbprofile"), "runs"], cwd=repo, env=env,
                           capture_output=True, text=True, check=True).stdout
    assert "quickstart.ipynb" in count, count
