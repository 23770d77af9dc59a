"""The profiler in an in-process shell: fault isolation, measure(), the %nbprofile magic."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from IPython.core.error import UsageError

import nbprofile
from nbprofile.errors import NbprofileWarning
from nbprofile.meters.base import Meter
from nbprofile.readings import Availability, Readings
from nbprofile.store import SQLiteStore
from tests.support.store import stored

MiB = 1024**2


class Exploding(Meter):
    """A meter that fails at a chosen stage, like a driver that goes away."""

    name = "exploding"
    keys = ("boom_s",)

    def __init__(self, stage: str) -> None:
        self.stage = stage
        self.calls = 0

    def probe(self) -> Availability:
        return Availability(True, "test meter")

    def begin(self, key: object) -> None:
        self.calls += 1
        if self.stage == "begin":
            raise OSError("device went away")

    def end(self, key: object) -> Readings:
        if self.stage == "end":
            raise RuntimeError("counter overflow")
        return {}


@pytest.mark.parametrize("stage", ["begin", "end"])
def test_a_failing_meter_never_touches_the_cell(shell: Any, stage: str, _isolated_store, capsys) -> None:
    from nbprofile.engine import current

    shell.run_line_magic("load_ext", "nbprofile")
    exploding = Exploding(stage)
    profiler = current.current()
    profiler.windows.meters.insert(0, exploding)
    profiler.windows.order_meters()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = shell.run_cell("y = 6 * 7\ny")
        second = shell.run_cell("z = y + 1")
        third = shell.run_cell("1/0")
    assert first.result == 42 and second.success and shell.user_ns["z"] == 43
    assert isinstance(third.error_in_exec, ZeroDivisionError)
    ours = [w for w in caught if issubclass(w.category, NbprofileWarning)]
    assert len(ours) == 1, "one warning, not one per cell"
    assert "exploding meter failed" in str(ours[0].message)
    assert exploding.calls == 1  # switched off after the failure
    recs = stored(_isolated_store)
    assert [r.status for r in recs[-3:]] == ["ok", "ok", "error"]
    assert any("exploding meter failed" in n for n in recs[-3].notes)
    assert recs[-3].readings["boom_s"].method == "unavailable"
    assert recs[-1].value("wall_s") is not None  # the other meters carry on


def test_measure_records_a_block_and_reraises(_isolated_store) -> None:
    with nbprofile.measure("alloc") as m:
        buf = bytearray(150 * MiB)
        del buf
    assert m.record is not None and m.record.name == "alloc"
    assert m.value("rss_peak_bytes") - m.value("rss_start_bytes") >= 148 * MiB
    with pytest.raises(KeyError):
        with nbprofile.measure("fails") as failing:
            raise KeyError("x")
    assert failing.record.status == "error" and failing.record.error_type == "KeyError"
    kept = stored(_isolated_store)
    assert [r.name for r in kept] == ["alloc", "fails"]
    with nbprofile.measure("quiet", store=False) as q:
        pass
    assert q.record.value("wall_s") is not None and len(stored(_isolated_store)) == 2


def test_measure_inside_a_profiled_cell_keeps_the_cells_peak(shell: Any, _isolated_store) -> None:
    shell.run_line_magic("load_ext", "nbprofile")
    shell.run_cell(
        "import nbprofile\n"
        "big = bytearray(300 * 1024**2); del big\n"
        "with nbprofile.measure('inner') as m:\n"
        "    small = bytearray(50 * 1024**2); del small\n"
    )
    inner, cell = stored(_isolated_store)[-2:]
    assert inner.name == "inner" and cell.name is None
    assert 49 * MiB <= inner.value("rss_peak_bytes") - inner.value("rss_start_bytes") < 150 * MiB
    assert cell.value("rss_peak_bytes") - cell.value("rss_start_bytes") >= 299 * MiB


def test_nbprofile_magic_commands(shell: Any, _isolated_store, capsys, tmp_path) -> None:
    shell.run_line_magic("load_ext", "nbprofile")
    assert "measuring every cell" in capsys.readouterr().out
    status = shell.run_line_magic("nbprofile", "status")
    text = repr(status)
    assert "memory" in text and "exact peak" in text and str(_isolated_store) in text

    shell.run_line_magic("nbprofile", "off")
    shell.run_cell("a = 1")
    shell.run_line_magic("nbprofile", "on")
    shell.run_cell("b = 2")
    sources = [r.source for r in stored(_isolated_store)]
    assert "a = 1" not in sources and "b = 2" in sources

    capsys.readouterr()
    shell.run_line_magic("nbprofile", "footer full")
    shell.run_cell("c = 3")
    assert "overhead" in capsys.readouterr().out
    shell.run_line_magic("nbprofile", "footer compact --quiet-below 1s")
    shell.run_cell("d = 4")
    assert " wall · " not in capsys.readouterr().out
    shell.run_line_magic("nbprofile", "footer off")
    shell.run_cell("import time; time.sleep(0.01)")
    assert capsys.readouterr().out == ""

    report = shell.run_line_magic("nbprofile", f"report {tmp_path / 'r.md'}")  # the path as typed
    assert str(report) == str(tmp_path / "r.md") and "d = 4" in (tmp_path / "r.md").read_text()
    with pytest.raises(UsageError, match="cannot write /no/such/folder/r.html: No such file or directory"):
        shell.run_line_magic("nbprofile", "report /no/such/folder/r.html")
    history = shell.run_line_magic("nbprofile", "history 2")
    assert [r.source for r in history.records] == ["d = 4", "import time; time.sleep(0.01)"]
    last = shell.run_line_magic("nbprofile", "last")
    assert last.record.source == "import time; time.sleep(0.01)"


@pytest.mark.parametrize(("line", "message"), [
    ("bogus", "unknown command 'bogus'; use one of: on, off, status"),
    ("on now", "%nbprofile on takes no arguments"),
    ("footer loud", "invalid choice: 'loud'"),
    ("footer compact --quiet-below 3 parsecs", "%nbprofile footer: unrecognized arguments: parsecs; see %nbprofile?"),
    ("report --bogus", "%nbprofile report: unrecognized arguments: --bogus"),
    ("report a.md -o b.md", "give the output path once"),
    ("report", "this kernel has recorded no cell yet; run one first"),
    ("report out.pdf", "no report format writes .pdf files: name the file .html, .htm, .md"),
    ("report --format md out.html", "--format md but the file is named out.html"),
    ("footer compact --quiet-below 3parsecs", "bad duration '3parsecs'"),
    ("history -5", "N must be a positive number"),
    ("history 'unclosed", "No closing quotation"),
])
def test_nbprofile_magic_misuse_is_one_line(shell: Any, line: str, message: str) -> None:
    from nbprofile.ipython.extension import hooks_of

    shell.run_line_magic("load_ext", "nbprofile")
    hooks = hooks_of(shell)
    shell.run_line_magic("nbprofile", "footer full --quiet-below 2s")
    before = (hooks.enabled, hooks.footer_mode, hooks.quiet_below_s)
    with pytest.raises(UsageError) as info:
        shell.run_line_magic("nbprofile", line)
    assert message in str(info.value) and "\n" not in str(info.value).strip()
    assert (hooks.enabled, hooks.footer_mode, hooks.quiet_below_s) == before


class FlakyStore:
    """A store that fails its first writes, like a database locked by a long backup."""

    def __init__(self, path, failures: int) -> None:
        self.inner = SQLiteStore(path)
        self.path = self.inner.path
        self.failures = failures

    def journal_transaction(self, name):
        from nbprofile.errors import StoreError

        if self.failures > 0:
            self.failures -= 1
            raise StoreError("database is locked")
        return self.inner.journal_transaction(name)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_records_survive_a_store_outage(shell: Any, _isolated_store, monkeypatch) -> None:
    from nbprofile.engine import current
    from nbprofile.engine import recorder as recorder_module

    monkeypatch.setattr(recorder_module, "STORE_RETRY_S", 0.0)  # retry at every cell

    shell.run_line_magic("load_ext", "nbprofile")
    profiler = current.current()
    profiler.recorder._store = FlakyStore(_isolated_store, failures=2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = [shell.run_cell(f"v{i} = {i}") for i in range(4)]
        synced = [profiler.recorder.sync(force=True) for _ in range(3)]  # two attempts fail, the third writes
    assert all(r.success for r in results) and shell.user_ns["v3"] == 3
    assert synced[-1] and profiler.recorder.store_error is None
    ours = [w for w in caught if issubclass(w.category, NbprofileWarning)]
    assert len(ours) == 1 and "database is locked" in str(ours[0].message)
    sources = [r.source for r in stored(_isolated_store)]
    assert sources == ["v0 = 0", "v1 = 1", "v2 = 2", "v3 = 3"]  # kept in the journal, then written in order
    assert profiler.recorder.unsaved == []
