"""Each risky contract is guarded: a one-line break of it turns a test red (scripts/mutation_check.py).

The control runs the same tests on an unchanged copy, which must pass: a mutation is only
"caught" when its tests fail on the mutated copy and pass on the plain one.
"""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

pytestmark = pytest.mark.kernel  # the durability mutation starts a kernel
CHECK = runpy.run_path(str(Path(__file__).resolve().parents[2] / "scripts" / "mutation_check.py"))


def test_the_guarding_tests_pass_on_an_unchanged_copy() -> None:
    survived, output = CHECK["survives"](CHECK["CONTROL"])
    assert survived, output


@pytest.mark.parametrize("mutation", CHECK["MUTATIONS"], ids=lambda m: m.name.split(":")[0])
def test_a_one_line_break_is_caught(mutation: object) -> None:
    survived, output = CHECK["survives"](mutation)
    assert not survived, f"{mutation.name}: every test still passed\n{output}"  # type: ignore[attr-defined]
