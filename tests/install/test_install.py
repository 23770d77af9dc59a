"""Issue 6: the built package installs both extensions, enabled, with no node needed at install time."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    env = {**os.environ, "CI": "true"}
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",  # isolated, as pip install does
                    "-w", str(out), str(ROOT)], check=True, env=env, cwd=ROOT)
    (built,) = out.glob("nbprofile-*.whl")
    return built


def declared_version() -> str:
    """The version the source declares: nbprofile/_version.py, read as text (hatch builds from it)."""
    found = re.search(r"""^__version__\s*=\s*["']([^"']+)["']""", (ROOT / "nbprofile" / "_version.py").read_text(),
                      re.MULTILINE)
    assert found, "nbprofile/_version.py declares no __version__"
    return found.group(1)


def wheel_version(wheel: Path) -> str:
    """``Version:`` from the wheel's own METADATA."""
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = archive.read(name).decode()
    found = re.search(r"^Version: (\S+)$", metadata, re.MULTILINE)
    assert found, metadata[:500]
    return found.group(1)


def test_wheel_is_the_declared_version(wheel: Path) -> None:
    version = declared_version()
    assert wheel_version(wheel) == version
    assert wheel.name.startswith(f"nbprofile-{version}-")
    with zipfile.ZipFile(wheel) as archive:  # the panel the wheel ships says the same version
        (package,) = [n for n in archive.namelist() if n.endswith("labextensions/nbprofile/package.json")]
        assert json.loads(archive.read(package))["version"] == version


def test_wheel_carries_the_frontend_and_the_server_switch(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    data = [n for n in names if ".data/data/" in n]
    assert any(n.endswith("share/jupyter/labextensions/nbprofile/package.json") for n in data)
    assert any(n.endswith("share/jupyter/labextensions/nbprofile/static/style.js") for n in data)
    assert any(n.endswith("etc/jupyter/jupyter_server_config.d/nbprofile.json") for n in data)
    assert any(n.endswith("nbprofile/data/llm_prices.json") for n in names)
    assert any(n.endswith("nbprofile/data/global_energy_mix.json") for n in names)
    assert any(n.endswith("nbprofile/data/cpu_power.csv") for n in names)  # CPU estimates without codecarbon


def test_installed_wheel_shows_both_extensions_enabled(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    # the heavy dependencies come from this environment (a plain path in a .pth file, so this
    # environment's own editable nbprofile is not picked up); the package only from the wheel
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", str(wheel)],
                   check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER_")}
    env["PATH"] = f"{venv / 'bin'}:{env['PATH']}"
    labext = subprocess.run([str(python), "-m", "jupyterlab.labextensions", "list"], capture_output=True,
                            text=True, env=env, cwd=tmp_path)
    text = re.sub(r"\x1b\[[0-9;]*m", "", labext.stdout + labext.stderr)
    version = wheel_version(wheel)
    shown = f"nbprofile v{version}"
    assert shown in text and "enabled" in text.split(shown)[1].splitlines()[0], text
    assert f"{venv}/share/jupyter/labextensions" in text  # installed by the wheel, not a dev link
    where = subprocess.run([str(python), "-c", "import nbprofile; print(nbprofile.__file__)"],
                           capture_output=True, text=True, check=True, env=env, cwd=tmp_path).stdout
    assert where.startswith(str(venv)), where
    server = subprocess.run([str(python), "-m", "jupyter_server.extension.serverextension", "list"], capture_output=True,
                            text=True, env=env, cwd=tmp_path)
    text = re.sub(r"\x1b\[[0-9;]*m", "", server.stdout + server.stderr)
    assert f"Config dir: {venv}/etc/jupyter\n    nbprofile enabled" in text, text  # enabled by the wheel
    assert f"nbprofile {version} OK" in text, text


def test_the_lab_extra_brings_jupyterlab_4(wheel: Path, tmp_path: Path) -> None:
    """`pip install "nbprofile[lab]"` is what the README tells a user for the panel: the extra asks for
    JupyterLab 4, and a fresh venv that has it (from this environment, offline) satisfies it."""
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = archive.read(name).decode()
    assert "Provides-Extra: lab" in metadata
    assert re.search(r'^Requires-Dist: jupyterlab<5,>=4; extra == ["\x27]lab["\x27]$', metadata, re.MULTILINE), metadata
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # no index: every requirement, the extra's included, must be met by what is there already
    done = subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-index", f"{wheel}[lab]"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    version = subprocess.run([str(python), "-c", "import jupyterlab; print(jupyterlab.__version__)"],
                             capture_output=True, text=True, check=True).stdout
    assert version.split(".")[0] == "4", version
