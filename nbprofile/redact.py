"""Secrets in a cell's text, masked before it leaves the kernel: ``sk-proj-…f3a9``.

A team store, a shared report or a CSV copies cell sources to other people, so an API key
typed into a cell (``OpenAI(api_key='sk-proj-…')``) must not be copied with them. :func:`mask`
replaces each secret it recognises by its well-known prefix (``sk-proj-``, ``hf_``, ``AKIA``),
an ellipsis and, for a long one, its last four characters: enough to tell which key a cell
used, not enough to use it.

What it recognises: the shapes of provider keys (OpenAI, Anthropic, Hugging Face, AWS access
key ids, GitHub, GitLab, Google, Slack, Stripe) anywhere in the text; ``Authorization``
headers and ``Bearer``/``Basic`` credentials; a string literal assigned to a name ending in
``api_key``, ``token``, ``secret``, ``password`` and the like (``api_key='…'``,
``"password": "…"``, ``OPENAI_API_KEY=…``); a URL's password (``postgresql://user:…@host``);
private key PEM blocks. What it leaves alone: code that only names a secret
(``api_key=os.environ["KEY"]``, ``token=None``, ``f"Bearer {token}"``) and short values
(``pad_token="<pad>"``).

It is pure and cheap: one scan of the lower-cased text for the literals a secret starts with
(``sk-``, ``hf_``, ``api_key``, ``://``…; most cells have none), and the one compiled
expression tried only where one starts (``bench/redact_cost.py``). A password keeps no last
characters (they are part of what someone chose). Masking a masked text changes nothing, and
never makes a text longer. Passwords typed in prose, or values shorter than :data:`MIN_VALUE`,
are not found: masking is a net under the usual ways keys get into cells, not a guarantee.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Protocol, TypeVar

#: what stands for the hidden part of a secret
ELLIPSIS = "…"
#: a secret part at least this long keeps its last four characters; a shorter one keeps none
#: (four of eight would give half of it away)
TAIL_FROM = 16
#: a value assigned to a secret's name is masked from this length on: shorter ones are
#: placeholders and tokenizer symbols (``pad_token="[PAD]"``), not credentials
MIN_VALUE = 8

# The prefixes a provider puts before its keys, longest first within a family; a masked key
# keeps its prefix so that a reader can still tell an OpenAI key from a Hugging Face token.
_PREFIXES = re.compile(
    r"sk-ant-|sk-proj-|sk-svcacct-|sk-admin-|sk-|(?:sk|rk|pk)_(?:live|test)_|hf_|gh[pousr]_|github_pat_"
    r"|glpat-|AKIA|ASIA|AIza|xox[abposr]-"
)

# the characters of a token-like credential (base64, base64url, JWT, hex)
_CRED = r"A-Za-z0-9._~+/=\-"
# after a credential: not another of its characters, nor a mask (so that a masked text is left
# as it is, and a match never stops inside a longer token)
_CRED_END = rf"(?![{_CRED}{ELLIPSIS}])"
# the names whose string value is a secret: they end a name (``OPENAI_API_KEY``, ``hf_token``,
# ``aws_secret_access_key``, ``"X-Api-Key"``), so ``tokenizer`` or ``num_tokens`` are not them
_NAMES = (r"api[_-]?key|apikey|secret(?:[_-]?key)?|access[_-]?key|private[_-]?key|auth[_-]?key"
          r"|passw(?:or)?d|pwd|passphrase|token|credentials?")
# between a name and its value: a closing quote or bracket (``"password": …``,
# ``environ['API_KEY'] = …``), a type annotation (``api_key: str = …``), then ``=`` or ``:``
_SEP = r"""["']?\]?[ \t]*(?::[ \t]*[\w.\[\]| ]{1,40}?[ \t]*=|:=?|=)[ \t]*"""

_PATTERN = re.compile(
    "|".join((
        # a private key PEM block, to its END line, or to the end of its base64 when there is none
        r"(?P<pem>-----BEGIN [A-Z0-9 ]{0,20}PRIVATE KEY-----)"
        r"(?:(?P<pem_body>[\s\S]*?)(?P<pem_end>-----END [A-Z0-9 ]{0,20}PRIVATE KEY-----)"
        r"|(?P<pem_open>(?:(?:\\n|\r?\n)?[A-Za-z0-9+/=]{16,})+))",
        # an Authorization header's value, whatever its scheme
        rf"(?P<auth>\b(?i:authorization)[\"']?[ \t]*[:=,][ \t]*[\"']?(?:(?i:bearer|basic|token)[ \t]+)?)"
        rf"(?P<auth_value>[{_CRED}]{{{MIN_VALUE},}}){_CRED_END}",
        # a Bearer or Basic credential elsewhere: one that has a digit or is long (prose has neither)
        rf"(?P<scheme>\b(?:Bearer|Basic)[ \t]+)"
        rf"(?P<scheme_value>(?=[A-Za-z._~+/=\-]*[0-9])[{_CRED}]{{{MIN_VALUE},}}|[{_CRED}]{{20,}}){_CRED_END}",
        # a URL's password: scheme://user:password@host
        rf"(?P<url>://)(?P<url_user>[^\s:/@'\"{{}}]*):(?P<url_password>[^\s@/'\"{{}}{ELLIPSIS}]+)(?=@)",
        # provider keys, by shape
        r"(?P<token>(?<![A-Za-z0-9_-])(?:"
        r"sk-(?:ant-|proj-|svcacct-|admin-)?(?=[A-Za-z_-]*[0-9])[A-Za-z0-9_-]{20,}"
        r"|(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}"
        r"|hf_[A-Za-z0-9]{20,}"
        r"|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}"
        r"|glpat-[A-Za-z0-9_-]{20,}"
        r"|(?:AKIA|ASIA)[A-Z0-9]{16}"
        r"|AIza[A-Za-z0-9_-]{35}"
        r"|xox[abposr]-[A-Za-z0-9-]{10,}"
        r")(?![A-Za-z0-9_-]))",
        # a string literal assigned to a secret's name: api_key='…', "password": "…"
        rf"(?P<named>(?i:{_NAMES})(?!\w){_SEP}(?P<quote>[\"']))"
        rf"(?P<named_value>[^\s\"'\\{{}}<>]{{{MIN_VALUE},}})(?P=quote)",
        # a bare value (a shell line, %env, a .env file): OPENAI_API_KEY=…, aws_secret_access_key = …
        rf"(?P<bare>(?P<bare_name>(?i:{_NAMES}))(?!\w)[ \t]*=[ \t]*)"
        rf"(?P<bare_value>[A-Za-z0-9._~+/=\-!@#$%^*:]{{{MIN_VALUE},}})(?=[\s;&,\"']|$)",
    ))
)

# a Basic credential is a user's password, base64-encoded; a name that holds a password
_BASIC = re.compile(r"(?i:basic)")
_PASSWORD = re.compile(r"(?i:passw|pwd|passphrase)")

# Where a secret may start, in the lower-cased text: every alternative above starts with one of
# these (a test checks that this finds what a pass of the whole expression finds). Letters are
# grouped by their first, so that a position that starts none of them costs one comparison; a
# name counts only where a value is given to it (``token = …``, not ``tokenizer`` or ``eos_token)``).
_GIVEN = r"""(?=["']?\]?[ \t]*[:=])"""
_START = re.compile(
    rf"a(?:(?:pi[_-]?key|pikey|ccess[_-]?key|uth[_-]?key){_GIVEN}|uthorization|kia|sia|iza)"
    rf"|s(?:ecret(?:[_-]?key)?{_GIVEN}|k[-_])|p(?:(?:assw(?:or)?d|wd|assphrase|rivate[_-]?key){_GIVEN})"
    rf"|token{_GIVEN}|credentials?{_GIVEN}|b(?:earer|asic)|rk_|hf_|g(?:h[pousr]_|ithub_pat_|lpat-)|xox|://"
    r"|-----begin"
)
# lower-casing that keeps every character where it was (``str.lower`` may not: ``İ`` becomes two)
_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}


def hide(value: str, *, tail: bool = True) -> str:
    """A secret's masked form: its provider's prefix, ``…``, and its last four characters when
    it is long (``sk-proj-…f3a9``) and ``tail`` (never for a password: its last characters are
    a part of what someone chose, not of a random key); a value already masked is returned as
    it is."""
    if ELLIPSIS in value:
        return value
    found = _PREFIXES.match(value)
    prefix = found.group() if found is not None else ""
    rest = value[len(prefix):]
    if not rest:  # the prefix alone: nothing to recognise it by, and the mask must not be longer
        return ELLIPSIS
    return f"{prefix}{ELLIPSIS}{rest[-4:] if tail and len(rest) >= TAIL_FROM else ''}"


def _bare_is_secret(name: str, value: str) -> bool:
    """A bare value is a secret in an environment-style line (``OPENAI_API_KEY=…``, its name
    in capitals) or when it cannot be code: a digit, and not a (dotted) Python name, so that
    ``token = tok_v2`` or ``password = config.password`` stay as they are; or a long run of
    letters and digits (a URL's ``?token=3f9a…``), which no one names a variable."""
    if name.isupper():
        return True
    digits = sum(c.isdigit() for c in value)
    if not digits:
        return False
    return not value.replace(".", "_").isidentifier() or (value.isalnum() and len(value) >= 20 and digits > 3)


def _replace(m: re.Match[str]) -> str:
    """The masked form of one match; which alternative matched is the last group it closed."""
    last = m.lastgroup
    if last == "token":
        return hide(m.group())
    if last == "named_value":
        named = m.group("named")
        return named + hide(m.group("named_value"), tail=not _PASSWORD.search(named)) + m.group("quote")
    if last == "bare_value":
        name, value = m.group("bare_name", "bare_value")
        if not _bare_is_secret(name, value):
            return m.group()
        return m.group("bare") + hide(value, tail=not _PASSWORD.search(name))
    if last == "auth_value":
        head = m.group("auth")
        return head + hide(m.group("auth_value"), tail=not _BASIC.search(head))
    if last == "scheme_value":
        head = m.group("scheme")
        return head + hide(m.group("scheme_value"), tail=not _BASIC.search(head))
    if last == "url_password":
        # the user name is kept, unless it is a key itself (``https://ghp_…:x-oauth-basic@host``)
        return f"://{mask(m.group('url_user'))}:{ELLIPSIS}"
    if last == "pem_open":  # no END line: the base64 that follows
        return m.group("pem") + ELLIPSIS
    body = m.group("pem_body")
    if body.strip() in ("", ELLIPSIS):
        return m.group()
    return m.group("pem") + ELLIPSIS + m.group("pem_end")


@lru_cache(maxsize=8)  # a cell's start (its journal line) and its record mask the same text in turn
def mask(text: str) -> str:
    """``text`` with every secret it holds masked (see the module's doc); never raises, never
    longer than ``text``, and ``mask(mask(t)) == mask(t)``."""
    if not text:
        return text
    lowered = text.lower()
    if len(lowered) != len(text):
        lowered = text.translate(_ASCII_LOWER)
    # one scan for where a secret may start (most cells: none), then the whole expression only
    # there: what ``_PATTERN.sub`` would do, without trying it at every character
    parts: list[str] = []
    done = 0
    search = _START.search
    start = search(lowered)
    while start is not None:
        at = start.start()
        found = _PATTERN.match(text, at)
        if found is None:  # on from the next character: another literal may start inside this one
            start = search(lowered, at + 1)
            continue
        parts += (text[done:at], _replace(found))
        done = found.end()
        start = search(lowered, max(done, at + 1))
    if not parts:
        return text
    parts.append(text[done:])
    masked = "".join(parts)
    # a mask is never longer than what it hides (a one-character URL password is the limit);
    # should an odd text make it so, the unmasked text is not the answer: mask it all
    return masked if len(masked) <= len(text) else ELLIPSIS * len(text)


def reference_mask(text: str) -> str:
    """:func:`mask` the slow way, the expression tried at every character (for tests)."""
    return _PATTERN.sub(_replace, text)


def mask_optional(text: str | None) -> str | None:
    """:func:`mask` of a text that may be missing."""
    return None if text is None else mask(text)


def mask_all(texts: Iterable[str]) -> list[str]:
    """:func:`mask` of each text (a record's notes)."""
    return [mask(t) for t in texts]


class HasTexts(Protocol):
    """The texts of a record a person wrote (:class:`nbprofile.record.CellRecord`'s): its cell's
    source, its ``measure()`` block's name, its notes (a fault's message may quote the cell),
    its error's type."""

    source: str
    name: str | None
    notes: list[str]
    error_type: str | None


R = TypeVar("R", bound=HasTexts)


def mask_record(record: R) -> R:
    """``record`` with its texts masked: ``record`` itself when none holds a secret (most), else
    a copy (the record may be another's: a store's, a caller's)."""
    source, name = mask(record.source), mask_optional(record.name)
    notes, error_type = mask_all(record.notes), mask_optional(record.error_type)
    if (source, name, notes, error_type) == (record.source, record.name, record.notes, record.error_type):
        return record
    masked = copy.copy(record)
    masked.source, masked.name, masked.notes, masked.error_type = source, name, notes, error_type
    return masked


__all__ = ["ELLIPSIS", "MIN_VALUE", "TAIL_FROM", "HasTexts", "hide", "mask", "mask_all", "mask_optional",
           "mask_record", "reference_mask"]
