"""One concept per module: no Python or TypeScript source of the product passes ~400 lines."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 400


def _long(paths: list[Path]) -> dict[str, int]:
    lengths = {str(p.relative_to(ROOT)): len(p.read_text(encoding="utf-8").splitlines()) for p in paths}
    return {name: n for name, n in lengths.items() if n > LIMIT}


def test_no_python_module_is_over_the_limit() -> None:
    sources = [p for p in (ROOT / "nbprofile").rglob("*.py") if "labextension" not in p.parts]
    assert len(sources) > 50
    assert _long(sources) == {}


def test_no_panel_module_is_over_the_limit() -> None:
    sources = [*(ROOT / "labextension" / "src").rglob("*.ts"), *(ROOT / "labextension" / "src").rglob("*.tsx")]
    assert len(sources) > 5
    assert _long(sources) == {}
