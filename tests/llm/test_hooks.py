"""Installing the hooks: lazily on import, never importing an SDK; generate() counting."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import types
from typing import Any

import pytest
from tests.llm.test_llm_server import hooked

from nbprofile.llm import hooks
from nbprofile.llm.meter import LocalGenerateMeter
from nbprofile.llm.transformers_generate import count_tokens, patch

np = pytest.importorskip("numpy")  # stands in for torch tensors in the generate() tests

__all__ = ["hooked"]


def test_install_imports_no_sdk_and_hooks_on_import() -> None:
    code = textwrap.dedent("""
        import sys
        import nbprofile.llm as llm
        llm.install()
        sdks = ("openai", "anthropic", "transformers", "torch")
        assert not any(m.split(".")[0] in sdks for m in sys.modules)
        import openai
        from openai.resources.chat.completions.completions import Completions
        assert type(Completions.__dict__["create"]).__name__ == "FunctionWrapper"
        from anthropic.resources.messages.messages import AsyncMessages
        assert type(AsyncMessages.__dict__["stream"]).__name__ == "FunctionWrapper"
        llm.uninstall()
        assert type(Completions.__dict__["create"]).__name__ == "function"
    """)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0, out.stderr  # how long the import takes is bench/load_time.py's to say


class FakeGenerationMixin:
    """Stands in for transformers' GenerationMixin: numpy arrays behave like tensors here."""

    class config:
        is_encoder_decoder = False
        _name_or_path = "tiny-random-gpt"

    class generation_config:
        eos_token_id = 2
        pad_token_id = 0

    def generate(self, inputs: Any = None, **kwargs: Any) -> Any:
        new = np.array([[5, 6, 2, 0], [7, 8, 9, 3]])  # row 0 ends at its EOS; row 1 runs to the limit
        return np.concatenate([inputs, new], axis=1)


def test_generate_hook_counts_tokens_and_time(hooked: Any) -> None:
    module = types.ModuleType("fake_generation_utils")
    module.GenerationMixin = FakeGenerationMixin  # type: ignore[attr-defined]
    patches = patch(module)
    try:
        meter = LocalGenerateMeter()
        meter.begin("k")
        inputs = np.array([[1, 4, 4], [1, 4, 4]])
        out = FakeGenerationMixin().generate(inputs, attention_mask=np.array([[1, 1, 1], [0, 1, 1]]))
        assert out.shape == (2, 7)  # the user's result, unchanged
        readings = meter.end("k")
    finally:
        for owner, attr, original in patches:
            setattr(owner, attr, original)
    assert readings["local_input_tokens"].value == 5  # the mask's sum
    assert readings["local_output_tokens"].value == 3 + 4  # up to and including EOS; then all 4
    assert readings["local_generate_calls"].value == 1 and readings["local_tokens_per_s"].value > 0
    assert "tiny-random-gpt" in readings["local_generate_calls"].note
    assert hooked.LEDGER.totals().calls == 0  # local calls are not hosted-API calls


def test_generate_output_nbprofile_cannot_read_still_counts_the_call(hooked: Any) -> None:
    class OddOutput(FakeGenerationMixin):
        def generate(self, inputs: Any = None, **kwargs: Any) -> Any:
            return "not a tensor"

    module = types.ModuleType("fake_generation_utils")
    module.GenerationMixin = OddOutput  # type: ignore[attr-defined]
    patches = patch(module)
    try:
        meter = LocalGenerateMeter()
        meter.begin("k")
        assert OddOutput().generate(np.array([[1, 4, 4]])) == "not a tensor"  # the user's result, unchanged
        readings = meter.end("k")
    finally:
        for owner, attr, original in patches:
            setattr(owner, attr, original)
    assert readings["local_generate_calls"].value == 1
    tokens = readings["local_output_tokens"]
    assert tokens.value is None and "could not count the tokens" in tokens.note, tokens


def test_count_tokens_encoder_decoder_and_output_objects() -> None:
    class Seq2Seq:
        class config:
            is_encoder_decoder = True

        generation_config = types.SimpleNamespace(eos_token_id=[1], pad_token_id=0)

    output = types.SimpleNamespace(sequences=np.array([[0, 11, 12, 1, 0]]))
    assert count_tokens(Seq2Seq(), (np.array([[3, 4, 5, 6]]),), {}, output) == (4, 3)


def test_real_transformers_generate_if_installed(hooked: Any) -> None:
    transformers = pytest.importorskip("transformers")
    torch = pytest.importorskip("torch")
    config = transformers.GPT2Config(
        n_layer=1, n_head=2, n_embd=16, vocab_size=64, n_positions=64, eos_token_id=63, pad_token_id=63
    )
    model = transformers.GPT2LMHeadModel(config)  # random weights, built here: nothing is downloaded
    meter = LocalGenerateMeter()
    meter.begin("k")
    model.generate(
        torch.tensor([[1, 2, 3]]),
        attention_mask=torch.ones(1, 3, dtype=torch.long),
        max_new_tokens=5,
        do_sample=False,
    )
    readings = meter.end("k")
    assert readings["local_input_tokens"].value == 3 and 1 <= readings["local_output_tokens"].value <= 5
    assert readings["local_generate_calls"].value == 1 and readings["local_tokens_per_s"].value > 0
    assert readings["local_generate_calls"].note == "GPT2LMHeadModel"  # no name_or_path: a config-built model


def test_a_broken_adapter_warns_and_measures_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    from nbprofile.errors import NbprofileWarning

    def broken(module: types.ModuleType) -> list[hooks.Patch]:
        raise AttributeError("no Completions here")

    module = types.ModuleType("openai.resources.embeddings")
    monkeypatch.setattr(hooks, "_targets", lambda: {"openai.resources.embeddings": broken})
    monkeypatch.setattr(hooks.CONFIG, "installed", True)
    with pytest.warns(NbprofileWarning, match="cannot hook openai.resources.embeddings"):
        hooks._on_import(module)
    assert "openai.resources.embeddings" not in hooks._patched
