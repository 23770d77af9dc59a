"""Budget files: which limits apply where, and how a broken file is reported."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nbprofile.budgets.file import BudgetFileError, load_budget_file, parse_budget_toml

EXAMPLE = '''
version = 1

[defaults]
limits = ["time<=60s"]
total = ["time<=30min"]

[notebooks."examples/quickstart.ipynb"]
cells = ["ram<=2GiB"]
total = ["time<=5min", "energy<=10Wh"]

[notebooks."examples/quickstart.ipynb".cell."a1b2c3d4"]
limits = ["time<=2s", "time<=+10%"]
strict = true

[notebooks."examples/gpu/*.ipynb"]
cells = ["vram<=8GiB"]
strict = true

[notebooks."examples/gpu/*.ipynb".cell.c0ffee]
strict = false
'''


def texts(limits: tuple) -> list[str]:  # type: ignore[type-arg]
    return [limit.text for limit in limits]


@pytest.fixture
def budgets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "ci" / "budgets.toml"
    path.parent.mkdir()
    path.write_text(EXAMPLE.replace('"examples/', '"../examples/'), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return path


def test_cell_limits_combine_defaults_notebook_and_cell(budgets: Path) -> None:
    f = load_budget_file(budgets)
    nb = "examples/quickstart.ipynb"  # relative to the current directory, as a CLI gets it
    assert texts(f.limits_for(nb, "a1b2c3d4")) == ["time<=60s", "ram<=2GiB", "time<=2s", "time<=+10%"]
    assert texts(f.limits_for(nb, "other")) == ["time<=60s", "ram<=2GiB"]
    assert texts(f.limits_for(nb, None)) == ["time<=60s", "ram<=2GiB"]
    assert texts(f.total_limits(nb)) == ["time<=30min", "time<=5min", "energy<=10Wh"]
    assert f.limits_for(os.path.abspath(nb), "a1b2c3d4") == f.limits_for(nb, "a1b2c3d4")
    assert f.cell_ids(nb) == ("a1b2c3d4",)


def test_unlisted_notebook_gets_defaults_only(budgets: Path) -> None:
    f = load_budget_file(budgets)
    assert texts(f.limits_for("examples/other.ipynb", "a1b2c3d4")) == ["time<=60s"]
    assert texts(f.total_limits("examples/other.ipynb")) == ["time<=30min"]
    assert not f.strict_for("examples/other.ipynb", None)


def test_glob_patterns_match_relative_to_the_file(budgets: Path) -> None:
    f = load_budget_file(budgets)
    assert texts(f.limits_for("examples/gpu/train.ipynb", None)) == ["time<=60s", "vram<=8GiB"]
    assert texts(f.limits_for("examples/cpu/train.ipynb", None)) == ["time<=60s"]


def test_strict_most_specific_wins(budgets: Path) -> None:
    f = load_budget_file(budgets)
    assert f.strict_for("examples/quickstart.ipynb", "a1b2c3d4")
    assert not f.strict_for("examples/quickstart.ipynb", "other")
    assert f.strict_for("examples/gpu/train.ipynb", "other")
    assert not f.strict_for("examples/gpu/train.ipynb", "c0ffee")
    spec = f.spec_for("examples/quickstart.ipynb", "a1b2c3d4")
    assert spec.strict and texts(spec.limits)[-1] == "time<=+10%"


def test_exact_key_string_matches_from_a_string() -> None:
    f = parse_budget_toml(EXAMPLE)
    assert texts(f.limits_for("examples/quickstart.ipynb", None)) == ["time<=60s", "ram<=2GiB"]
    assert texts(f.limits_for("examples/gpu/x.ipynb", None)) == ["time<=60s", "vram<=8GiB"]


def test_empty_file_has_no_limits() -> None:
    f = parse_budget_toml("")
    assert f.limits_for("a.ipynb", "x") == () and f.total_limits("a.ipynb") == ()


@pytest.mark.parametrize("text,message", [
    ('[notebooks."a.ipynb"]\ncells = ["time<=1s", "time<=3 parsecs"]\n',
     "budgets.toml: notebooks.\"a.ipynb\".cells[1]: time<=3 parsecs: unknown unit 'parsecs' "
     "for time (use ms, s, min or h)"),
    ('[notebooks."a.ipynb".cell.abc]\nlimits = ["foo<=1s"]\n',
     "budgets.toml: notebooks.\"a.ipynb\".cell.abc.limits[0]: foo<=1s: unknown budget key 'foo'"),
    ('[defaults]\nlimit = ["time<=1s"]\n',
     "budgets.toml: defaults: unknown key 'limit' (did you mean 'limits'? known: limits, total, strict)"),
    ('[notebooks."a.ipynb"]\ncell = ["time<=1s"]\n',
     "budgets.toml: notebooks.\"a.ipynb\".cell: expected tables like"),
    ('[notebooks."a.ipynb"]\nsells = ["time<=1s"]\n',
     "budgets.toml: notebooks.\"a.ipynb\": unknown key 'sells' (did you mean 'cells'?"),
    ('[notebooks."a.ipynb".cell.abc]\nlimit = ["time<=1s"]\n',
     "budgets.toml: notebooks.\"a.ipynb\".cell.abc: unknown key 'limit'"),
    ('[budgets]\nx = 1\n', "budgets.toml: unknown key 'budgets' (known: version, defaults, notebooks)"),
    ('[defaults]\ntotal = ["time<=+10%"]\n',
     "budgets.toml: defaults.total[0]: time<=+10%: totals take fixed limits only"),
    ('[notebooks."a.ipynb"]\ntotal = ["energy<=last"]\n',
     "budgets.toml: notebooks.\"a.ipynb\".total[0]: energy<=last: totals take fixed limits only"),
    ('[defaults]\nlimits = "time<=1s"\n', 'budgets.toml: defaults.limits: expected a list of limits'),
    ('[defaults]\nlimits = [30]\n', "budgets.toml: defaults.limits[0]: expected a string"),
    ('[defaults]\nstrict = "yes"\n', "budgets.toml: defaults.strict: expected true or false, not 'yes'"),
    ('version = 2\n', "budgets.toml: version: unsupported version 2"),
    ('notebooks = ["a.ipynb"]\n', "budgets.toml: notebooks: expected tables like"),
    ('[notebooks]\n"a.ipynb" = 3\n', 'budgets.toml: notebooks."a.ipynb": expected a table'),
    ('[defaults]\nlimits = ["time<=1s"\n', "budgets.toml: line 2: invalid TOML:"),
    ('[defaults]\nlimits = ["time<=1s"]\n[defaults]\n', "budgets.toml: line 3: invalid TOML:"),
])
def test_errors_name_file_place_and_problem(text: str, message: str) -> None:
    with pytest.raises(BudgetFileError) as info:
        parse_budget_toml(text, "budgets.toml")
    assert str(info.value).startswith(message), str(info.value)
    assert len(str(info.value).splitlines()) == 1


def test_load_reports_missing_and_undecodable_files(tmp_path: Path) -> None:
    with pytest.raises(BudgetFileError, match=r"nope\.toml: cannot read: No such file"):
        load_budget_file(tmp_path / "nope.toml")
    bad = tmp_path / "latin1.toml"
    bad.write_bytes(b'[defaults]\nlimits = ["time<=1s"] # caf\xe9\n')
    with pytest.raises(BudgetFileError, match=r"latin1\.toml: not UTF-8 text"):
        load_budget_file(bad)


def test_load_error_names_the_path_given(tmp_path: Path) -> None:
    path = tmp_path / "budgets.toml"
    path.write_text('[defaults]\nlimits = ["ram<=2"]\n', encoding="utf-8")
    with pytest.raises(BudgetFileError) as info:
        load_budget_file(path)
    assert str(info.value) == (f"{path}: defaults.limits[0]: ram<=2: '2' needs a unit for ram "
                               "(use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)")
