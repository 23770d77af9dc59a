"""Build ``nbprofile/data/llm_prices.json`` from litellm's price map.

Run only on purpose (prices are never fetched at run time)::

    pip download litellm --no-deps -d /tmp/litellm      # the wheel, not installed
    python -m nbprofile.llm._price_build /tmp/litellm/litellm-*.whl

It reads ``litellm/model_prices_and_context_window_backup.json`` inside the
wheel, keeps the chat, responses, completion and embedding models of OpenAI,
Anthropic, Google (Gemini API) and Mistral, and of each only the per-token
prices nbprofile applies: input, output, cache read, cache write (and the
long-retention cache write), their long-context tiers (``*_above_200k_tokens``)
and the flex/priority service tiers. The source, its SHA-256 and the date go
in ``_meta``; the date is shown with every cost.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import zipfile
from datetime import date
from pathlib import Path
from typing import Any

PROVIDERS = ("openai", "anthropic", "gemini", "mistral")
MODES = ("chat", "responses", "completion", "embedding")
MEMBER = "litellm/model_prices_and_context_window_backup.json"
#: litellm field -> ours
FIELDS = {
    "input_cost_per_token": "input",
    "output_cost_per_token": "output",
    "cache_read_input_token_cost": "cache_read",
    "cache_creation_input_token_cost": "cache_write",
}
#: the long-retention cache write (Anthropic 1 h, OpenAI 12 h), priced apart
LONG_WRITE = ("cache_creation_input_token_cost_above_1hr", "cache_creation_input_token_cost_above_12hr")
SERVICE_TIERS = ("flex", "priority")
_ABOVE = re.compile(r"^(?P<field>.+)_above_(?P<n>\d+)k_tokens$")
OUT = Path(__file__).resolve().parent.parent / "data" / "llm_prices.json"


def _prices(entry: dict[str, Any], suffix: str) -> dict[str, Any]:
    """Our fields for one service tier (suffix ``""``, ``"_flex"``, ``"_priority"``)."""
    out: dict[str, Any] = {}
    for theirs, ours in FIELDS.items():
        value = entry.get(theirs + suffix)
        if isinstance(value, (int, float)):
            out[ours] = value
    for theirs in LONG_WRITE:
        value = entry.get(theirs + suffix)
        if isinstance(value, (int, float)):
            out["cache_write_long"] = value
            break
    above: dict[str, dict[str, Any]] = {}
    for key, value in entry.items():
        if not isinstance(value, (int, float)) or not key.endswith(suffix):
            continue
        match = _ABOVE.match(key[: len(key) - len(suffix)] if suffix else key)
        if match is None or match["field"] not in FIELDS:
            continue
        if suffix == "" and any(key.endswith("_" + t) for t in (*SERVICE_TIERS, "batches")):
            continue
        above.setdefault(str(int(match["n"]) * 1000), {})[FIELDS[match["field"]]] = value
    if above:
        out["above"] = dict(sorted(above.items(), key=lambda kv: int(kv[0])))
    return out


def build(source: dict[str, Any], label: str, sha256: str, retrieved: str) -> dict[str, Any]:
    models: dict[str, Any] = {}
    for name, entry in source.items():
        if not isinstance(entry, dict) or entry.get("litellm_provider") not in PROVIDERS:
            continue
        if entry.get("mode") not in MODES:
            continue
        base = _prices(entry, "")
        if "input" not in base:
            continue  # a container or tool fee, not a token price
        base.setdefault("output", 0.0 if entry.get("mode") == "embedding" else None)
        if base["output"] is None:
            continue
        row: dict[str, Any] = {"provider": entry["litellm_provider"], "mode": entry["mode"], **base}
        for tier in SERVICE_TIERS:
            tiered = _prices(entry, "_" + tier)
            if "input" in tiered and "output" in tiered:
                row[tier] = tiered
        models[name] = row
    return {
        "_meta": {
            "source": label,
            "source_sha256": sha256,
            "retrieved": retrieved,
            "units": "USD per token",
            "fields": {
                "input": "uncached input",
                "output": "output (reasoning/thinking included)",
                "cache_read": "input read from the prompt cache",
                "cache_write": "input written to the prompt cache",
                "cache_write_long": "cache write with long retention (Anthropic 1 h, OpenAI 12 h)",
                "above": "prices for the whole call when its input exceeds N tokens",
                "flex/priority": "the service tier's prices",
            },
            "providers": list(PROVIDERS),
            "modes": list(MODES),
            "models": len(models),
        },
        "models": dict(sorted(models.items())),
    }


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__)
        return 2
    path = Path(argv[0])
    if path.suffix == ".whl":
        with zipfile.ZipFile(path) as wheel:
            raw = wheel.read(MEMBER)
        label = f"{path.name.split('-')[0]} {path.name.split('-')[1]} wheel from PyPI: {MEMBER}"
    else:
        raw = path.read_bytes()
        label = path.name
    table = build(json.loads(raw), label, hashlib.sha256(raw).hexdigest(), date.today().isoformat())
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(table, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    print(f"wrote {OUT}: {table['_meta']['models']} models from {label}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
