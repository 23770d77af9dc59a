"""Hook Hugging Face ``transformers`` ``generate()``: local tokens in, tokens out, tokens/s.

``GenerationMixin.generate`` is wrapped once, on the base class, so every model
that inherits it (or calls ``super().generate``) is counted, and a ``generate``
inside another (assisted decoding's draft model) is not counted twice.

Counts come from the tensors: input tokens are the attention mask's sum (else
batch × length); generated tokens are each row's new tokens up to and including
its first end-of-sequence token, so the padding of rows that finished early is
not counted. The time is the call's wall time; energy per token is a deriver
(:func:`nbprofile.llm.meter.derive_local_j_per_token`) since the window's energy
comes from another meter. Nothing here imports torch or transformers.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Callable
from time import perf_counter
from types import ModuleType
from typing import Any

from nbprofile.llm import switches
from nbprofile.llm.ledger import LEDGER, TokenMethod, Usage

_inside = contextvars.ContextVar("nbprofile_inside_generate", default=False)


def _ids(value: Any) -> set[int]:
    if value is None:
        return set()
    if isinstance(value, int):
        return {value}
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, (list, tuple, set)):
        return {v for v in value if isinstance(v, int)}
    return set()


def _config_value(instance: Any, kwargs: dict[str, Any], name: str) -> Any:
    if kwargs.get(name) is not None:
        return kwargs[name]
    for config in (kwargs.get("generation_config"), getattr(instance, "generation_config", None)):
        value = getattr(config, name, None)
        if value is not None:
            return value
    return None


def count_tokens(
    instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any
) -> tuple[int, int]:
    """``(input tokens, generated tokens)`` of one ``generate()`` call."""
    inputs = kwargs.get("input_ids")
    if inputs is None:
        inputs = args[0] if args else kwargs.get("inputs")
    mask = kwargs.get("attention_mask")
    sequences = output if hasattr(output, "shape") else getattr(output, "sequences", output)
    rows = sequences.tolist()
    config = getattr(instance, "config", None)
    if mask is not None:
        input_tokens = int(mask.sum())
    elif inputs is not None and hasattr(inputs, "shape"):
        input_tokens = int(inputs.shape[0]) * int(inputs.shape[-1])
    else:  # inputs_embeds only: the length is the embeddings' second dimension
        embeds = kwargs.get("inputs_embeds")
        input_tokens = int(embeds.shape[0]) * int(embeds.shape[1]) if embeds is not None else 0
    if getattr(config, "is_encoder_decoder", False):
        start = 1  # the decoder start token is not generated
    elif inputs is not None and hasattr(inputs, "shape"):
        start = int(inputs.shape[-1])  # decoder-only models return the prompt first
    else:
        start = 0  # inputs_embeds: only new tokens come back
    eos = _ids(_config_value(instance, kwargs, "eos_token_id"))
    pad = _ids(_config_value(instance, kwargs, "pad_token_id"))
    generated = 0
    for row in rows:
        new = row[start:]
        end = len(new)
        for i, token in enumerate(new):
            if token in eos:
                end = i + 1
                break
        if not eos and pad:  # no end token known: trailing padding is still not generation
            while end and new[end - 1] in pad:
                end -= 1
        generated += end
    return input_tokens, generated


def _model_name(instance: Any) -> str:
    config = getattr(instance, "config", None)
    name = getattr(config, "_name_or_path", None) or getattr(config, "name_or_path", None)
    return str(name) if name else type(instance).__name__


def _usage(instance: Any, duration: float, input_tokens: int | None, generated: int | None,
           method: TokenMethod, token_note: str | None) -> Usage:
    return Usage(
        kind="local", provider="transformers", api="generate", model=_model_name(instance),
        input_tokens=input_tokens, output_tokens=generated, cached_tokens=None, cache_write_tokens=None,
        reasoning_tokens=None, token_method=method, token_note=token_note, cost=None,
        cost_note="a local model: its cost is the compute's (compute_cost_usd)" if method == "measured" else None,
        duration_s=duration, at=time.time(),
    )


def _wrapper(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    if _inside.get() or not switches.CONFIG.installed:
        return wrapped(*args, **kwargs)
    switches.check_guard()
    token = _inside.set(True)
    started = perf_counter()
    try:
        output = wrapped(*args, **kwargs)
    finally:
        _inside.reset(token)
    duration = perf_counter() - started
    try:
        input_tokens, generated = count_tokens(instance, args, kwargs, output)
        usage = _usage(instance, duration, input_tokens, generated, "measured", None)
    except Exception as exc:  # an output shape we do not know: the call counts, its tokens do not
        usage = _usage(instance, duration, None, None, "unavailable",
                       f"nbprofile could not count the tokens: {type(exc).__name__}: {exc}")
    LEDGER.append(usage)
    return output


def patch(module: ModuleType) -> list[switches.Patch]:
    return [switches.wrap(module.GenerationMixin, "generate", _wrapper)]
