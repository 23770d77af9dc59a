"""The footer and tables, from records built by hand: what the user reads under a cell."""

from __future__ import annotations

import pytest
from nbprofile.report.tables import RecordDetail, RecordTable
from nbprofile.report.footer import footer_html, footer_text

from nbprofile.readings import Reading
from nbprofile.record import CellRecord

MiB = 1024**2
GiB = 1024**3


def make(readings: dict[str, Reading], **kw) -> CellRecord:
    base = dict(run_id="r1", seq=1, notebook="/nb.ipynb", cell_id="c1", execution_count=3,
                code_hash="abc", source="x = 1", started_at=1.7e9, status="ok", error_type=None,
                readings=readings, overhead_s=2.5e-5)
    base.update(kw)
    return CellRecord(**base)


CPU_ONLY = {
    "wall_s": Reading(2.314, "s", "measured", "perf_counter"),
    "cpu_s": Reading(1.9, "s", "measured", "getrusage"),
    "children_cpu_s": Reading(0.0, "s", "measured", "getrusage(children)"),
    "rss_peak_bytes": Reading(int(1.2 * GiB), "B", "measured", "clear_refs+VmHWM"),
    "rss_start_bytes": Reading(int(1.2 * GiB) - 300 * MiB, "B", "measured", "rss"),
}


@pytest.mark.parametrize(("readings", "text"), [
    (CPU_ONLY, "2.31 s wall · 1.90 s CPU · peak RAM 1.20 GiB (+300 MiB)"),
    ({**CPU_ONLY, "rss_peak_bytes": Reading(int(1.2 * GiB), "B", "sampled", "rss every 10 ms", "sampled")},
     "2.31 s wall · 1.90 s CPU · peak RAM ~1.20 GiB (+300 MiB)"),
    ({**CPU_ONLY, "rss_peak_bytes": Reading.unavailable("B", "no /proc here")},
     "2.31 s wall · 1.90 s CPU · peak RAM n/a"),
    ({**CPU_ONLY, "children_cpu_s": Reading(0.5, "s", "measured", "getrusage(children)")},
     "2.31 s wall · 1.90 s CPU · 500 ms CPU in child processes · peak RAM 1.20 GiB (+300 MiB)"),
])
def test_compact_footer(readings: dict[str, Reading], text: str) -> None:
    assert footer_text(make(readings)) == text


def test_no_rise_in_ram_is_not_spelled_out() -> None:
    flat = {**CPU_ONLY, "rss_start_bytes": CPU_ONLY["rss_peak_bytes"]}
    assert footer_text(make(flat)) == "2.31 s wall · 1.90 s CPU · peak RAM 1.20 GiB"


def test_full_footer_adds_detail_and_overhead() -> None:
    readings = {**CPU_ONLY, "cpu_user_s": Reading(1.8, "s", "measured", "getrusage"),
                "cpu_sys_s": Reading(0.1, "s", "measured", "getrusage")}
    text = footer_text(make(readings), "full")
    assert text.endswith("user 1.80 s · system 100 ms · overhead 25.0 µs")


def test_unavailable_is_never_zero_and_html_carries_the_reason() -> None:
    record = make({**CPU_ONLY, "rss_peak_bytes": Reading.unavailable("B", "no /proc here")})
    html = footer_html(record)
    assert 'title="unavailable: no /proc here"' in html
    assert "0 B" not in footer_text(record)


def test_footer_html_escapes_notes() -> None:
    record = make(CPU_ONLY, notes=["memory meter failed in end: <script>alert(1)</script>"])
    html = footer_html(record)
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_history_table_text_and_html_escape_source() -> None:
    records = [make(CPU_ONLY, source="print('<b>hi</b>')\nmore()"),
               make(CPU_ONLY, status="error", error_type="ValueError", execution_count=4),
               make(CPU_ONLY, source="x = [i for i in range(3)][/b]")]
    table = RecordTable(records, "history of [bold]nb[/bold].ipynb")
    text = repr(table)
    assert "print('<b>hi</b>') …" in text
    # code and paths are shown as written, not read as rich markup
    assert "x = [i for i in range(3)][/b]" in text and "history of [bold]nb[/bold].ipynb" in text
    assert all(line == line.rstrip() for line in text.splitlines())  # no padding to the console width
    assert "error (ValueError)" in text and "2.31 s" in text
    html = table._repr_html_()
    assert "<b>hi</b>" not in html and "&lt;b&gt;hi&lt;/b&gt;" in html
    assert repr(RecordTable([], "history")) == "history: no records yet"


def test_detail_lists_every_reading_with_its_method() -> None:
    text = repr(RecordDetail(make(CPU_ONLY)))
    assert "rss_peak_bytes" in text and "measured (clear_refs+VmHWM)" in text
    assert "[3] cell c1, ok" in text


def test_compact_footer_shows_new_quantities_only_when_measured() -> None:
    readings = {
        **CPU_ONLY,
        "gpu_time_s": Reading.unavailable("s", "torch is not imported in this kernel"),
        "vram_peak_bytes": Reading(8 * GiB, "B", "measured", "torch.cuda.max_memory_allocated"),
        "energy_j": Reading(5400.0, "J", "estimated", "nvml+tdp", "CPU part estimated"),
        "co2_g": Reading(0.5, "g", "estimated", "FRA 56 g/kWh"),
        "llm_tokens": Reading(12400, "tokens", "measured", "openai usage"),
        "cost_usd": Reading(0.0512, "USD", "measured", "price table 2026-11"),
    }
    compact = footer_text(make(readings))
    assert compact == ("2.31 s wall · 1.90 s CPU · peak RAM 1.20 GiB (+300 MiB) · peak VRAM 8.00 GiB"
                       " · ~1.50 Wh · ~500 mg CO2e · 12.4k tokens · $0.0512")
    full = footer_text(make(readings), "full")
    assert "GPU time n/a" in full  # listed in full, with its reason in the HTML title
    assert 'title="unavailable: torch is not imported in this kernel"' in footer_html(make(readings), "full")


def test_compact_footer_leaves_out_negligible_estimates() -> None:
    readings = {**CPU_ONLY,
                "energy_j": Reading(0.8, "J", "estimated", "cpu time x tdp"),
                "co2_g": Reading(1e-4, "g", "estimated", "world average"),
                "cost_usd": Reading(3e-11, "USD", "estimated", "default prices")}
    assert footer_text(make(readings)) == "2.31 s wall · 1.90 s CPU · peak RAM 1.20 GiB (+300 MiB)"
    full = footer_text(make(readings), "full")
    assert "~800 mJ" in full and "~100 µg CO2e" in full and "~<$0.000001" in full
    measured = {**readings, "energy_j": Reading(0.8, "J", "measured", "rapl")}
    assert "800 mJ" in footer_text(make(measured))  # a measurement is never hidden


def test_cells_that_call_no_model_do_not_say_zero_tokens() -> None:
    readings = {**CPU_ONLY, "llm_tokens": Reading(0, "tokens", "measured", "ledger"),
                "cost_usd": Reading(0.0, "USD", "measured", "price table")}
    assert footer_text(make(readings)) == "2.31 s wall · 1.90 s CPU · peak RAM 1.20 GiB (+300 MiB)"
    assert "0 tokens" in footer_text(make(readings), "full")
