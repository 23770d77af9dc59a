"""Issue 17: a literal API key in a cell's source appears in no store, journal or report; the
cell itself still sees its real string."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nbprofile.report.write import write_report
from nbprofile.store import SQLiteStore

# realistic fake credentials: the shapes of real ones, nobody's keys
OPENAI = ("sk-proj-" + "T3BlbkFJx9Qm2Zr7Lw4Vn8Kc1Hs5Yd0Gf6Pj3Ub9Xe2Ro7Ia4Mt8Nq1Sv5Wc0Ek6Dh3Bz9Fl2Oy7Gu4Ri1Tp"
          + "8Ja5Cn0f3a9")
HF = "hf_" + "QxWvUtSrPoNmLkJiHgFeDcBaZy98765abcd"
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyLTQyIiwiZXhwIjoxOTAwMDAwMDAwfQ.Kx7Vb2Np9Qw4Lr8Ty3Mz6Hc1Fd5Gj0Sa"
#: what each is masked to: prefix, ellipsis, last four
MASKED = {OPENAI: "sk-proj-…f3a9", HF: "hf_…abcd", JWT: "Bearer …j0Sa"}

CELL = f"""\
hf_token = '{HF}'
class OpenAI:  # a stand-in for the SDK's client: it keeps the key it is given
    def __init__(self, api_key):
        self.api_key = api_key

client = OpenAI(api_key='{OPENAI}')
headers = {{'Authorization': 'Bearer {JWT}'}}
print(client.api_key)
print(hf_token)
print(headers['Authorization'])
"""


def bodies(secret: str) -> list[str]:
    """Parts of a secret that a mask must not keep: all of it, and its middle (the
    prefix and the last four characters are what the masked form keeps)."""
    middle = secret[len(secret) // 4: -4]
    return [secret, middle, middle[:12], middle[-12:]]


def assert_no_secret(data: bytes | str, where: str) -> None:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    for secret in (OPENAI, HF, JWT):
        for part in bodies(secret):
            assert part not in text, f"{part[:20]}… of a secret is in {where}"


@pytest.mark.kernel
def test_a_key_typed_into_a_cell_reaches_no_store_journal_or_report(start_kernel: Any, _isolated_store: Path,
                                                                      tmp_path: Path) -> None:
    k = start_kernel()
    k.run("%load_ext nbprofile", cell_id="load")
    reply = k.run(CELL, cell_id="c-keys")
    # the cell itself is untouched: it sees, and prints, the real strings
    assert reply.status == "ok", reply.error
    assert reply.stdout.splitlines() == [OPENAI, HF, f"Bearer {JWT}"]
    last = k.run("%nbprofile last", cell_id="last")
    shown = last.stdout + json.dumps(last.displays) + "\n".join(reply.footers)
    assert_no_secret(shown, "%nbprofile last or the footer")

    # the journal, while the kernel runs: the cell's start line and its record line
    journals = sorted(Path(f"{_isolated_store}.journals").glob("*.jsonl"))
    assert journals, "the kernel keeps a journal beside the store"
    lines = [json.loads(line) for j in journals for line in j.read_text(encoding="utf-8").splitlines()]
    sources = [entry.get("src") for entry in lines if entry.get("k") == "start"]
    sources += [json.dumps(e, ensure_ascii=False) for e in lines if e.get("k") not in ("start", "run")]
    assert any("sk-proj-…f3a9" in (s or "") for s in sources), sources
    for journal in journals:
        assert_no_secret(journal.read_bytes(), journal.name)

    # the store: the record as stored, and the raw bytes of the SQLite file and its WAL
    store = SQLiteStore(_isolated_store)
    try:
        record = next(r for r in store.history(None, 100) if r.cell_id == "c-keys")
        for secret, masked in MASKED.items():
            assert masked in record.source, (masked, record.source)
        assert "client = OpenAI(api_key='sk-proj-…f3a9')" in record.source
        # every report format
        for fmt in ("html", "md", "json", "csv"):
            path, _ = write_report(store, fmt, str(tmp_path / f"report.{fmt}"), run_ref=record.run_id)
            text = Path(path).read_text(encoding="utf-8")
            assert_no_secret(text, f"the {fmt} report")
            # the Markdown report shows a cell's first line; the others its whole source
            shown = ["hf_…abcd"] if fmt == "md" else list(MASKED.values())
            assert all(masked in text for masked in shown), f"the {fmt} report shows the masked keys"
    finally:
        store.close()
    k.run("%nbprofile status", cell_id="status")  # a later cell: the store has had every line
    files = [p for p in _isolated_store.parent.iterdir()
             if p.name.startswith(_isolated_store.name) and p.is_file()]  # the file, its WAL
    assert _isolated_store in files
    raw = b"".join(p.read_bytes() for p in files)
    assert "sk-proj-…f3a9".encode() in raw, "the masked form is what the store holds"
    for path in files:
        assert_no_secret(path.read_bytes(), path.name)


def test_records_that_wait_in_the_unsaved_file_are_masked(shell: Any, tmp_path: Path, monkeypatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("NBPROFILE_DB", str(blocker / "records.db"))  # neither store nor journal can be made
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    from nbprofile import measure
    from nbprofile.engine import current

    shell.run_line_magic("load_ext", "nbprofile")
    with pytest.warns(Warning):
        result = shell.run_cell(f"key = '{OPENAI}'\nlen(key)")
        with measure(f"call with {HF}"):
            pass
        path = current.current().recorder.finish()
    assert result.success and result.result == len(OPENAI)
    assert path is not None
    saved = Path(path).read_text(encoding="utf-8")
    assert_no_secret(saved, "the unsaved-records file")
    records = [json.loads(line)["record"] for line in saved.splitlines()]
    assert "key = 'sk-proj-…f3a9'\nlen(key)" in [r["source"] for r in records]
    assert "call with hf_…abcd" in [r["name"] for r in records]
