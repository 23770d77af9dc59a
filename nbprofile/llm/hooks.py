"""Install the SDK wrappers when the SDKs are imported; take them off on unload.

nbprofile never imports ``openai``, ``anthropic`` or ``transformers`` (``anthropic``
alone takes over a second): :func:`install` registers wrapt post-import hooks
on the SDK modules that define the methods, which fire when the user's code
imports them, or at once for a module already imported. The hook replaces the
methods on the SDK's classes with :class:`wrapt.FunctionWrapper` objects;
:func:`uninstall` puts the originals back. Hooks stay registered with wrapt
(it has no way to remove one) but do nothing while uninstalled.

The switches every wrapper reads are in :mod:`nbprofile.llm.switches`.
"""

from __future__ import annotations

import sys
import threading
import warnings
from collections.abc import Callable
from types import ModuleType

from nbprofile.errors import NbprofileWarning
from nbprofile.llm.switches import CONFIG, Patch

_lock = threading.Lock()
_registered: set[str] = set()
_patched: dict[str, list[Patch]] = {}


def _targets() -> dict[str, Callable[[ModuleType], list[Patch]]]:
    # Imported here, not at module level: the adapters are only needed once an SDK
    # is imported, and this keeps `%load_ext nbprofile` from loading them.
    from nbprofile.llm import anthropic_sdk, openai_sdk, transformers_generate

    return {
        "openai.resources.chat.completions.completions": openai_sdk.patch_chat,
        "openai.resources.completions": openai_sdk.patch_completions,
        "openai.resources.responses.responses": openai_sdk.patch_responses,
        "openai.resources.embeddings": openai_sdk.patch_embeddings,
        "anthropic.resources.messages.messages": anthropic_sdk.patch_messages,
        "anthropic.resources.beta.messages.messages": anthropic_sdk.patch_beta_messages,
        "transformers.generation.utils": transformers_generate.patch,
    }


TARGET_MODULES = (
    "openai.resources.chat.completions.completions",
    "openai.resources.completions",
    "openai.resources.responses.responses",
    "openai.resources.embeddings",
    "anthropic.resources.messages.messages",
    "anthropic.resources.beta.messages.messages",
    "transformers.generation.utils",
)


def install() -> None:
    """Wrap the SDKs now where imported, and when imported otherwise. Idempotent."""
    import wrapt

    CONFIG.installed = True
    for name in TARGET_MODULES:
        with _lock:
            first = name not in _registered
            _registered.add(name)
        if first:
            wrapt.register_post_import_hook(_on_import, name)  # runs now if already imported
        elif name in sys.modules:
            _on_import(sys.modules[name])


def uninstall() -> None:
    """Put every original method back; later imports are left alone. Idempotent."""
    CONFIG.installed = False
    with _lock:
        patched = list(_patched.items())
        _patched.clear()
    for _name, patches in patched:
        for owner, attr, original in reversed(patches):
            setattr(owner, attr, original)


def installed() -> dict[str, bool]:
    """Which SDK modules are wrapped now (for ``%nbprofile status``)."""
    return {name: name in _patched for name in TARGET_MODULES}


def _on_import(module: ModuleType) -> None:
    name = module.__name__
    with _lock:
        if not CONFIG.installed or name in _patched:
            return
        _patched[name] = []
    try:
        patches = _targets()[name](module)
    except Exception as exc:  # an SDK version whose layout we do not know: measure nothing, say so
        with _lock:
            _patched.pop(name, None)
        warnings.warn(
            f"nbprofile: cannot hook {name} ({type(exc).__name__}: {exc}); its LLM calls are not measured",
            NbprofileWarning,
            stacklevel=2,
        )
        return
    with _lock:
        _patched[name] = patches
