"""Where a store is: a SQLite file path, or a server's URL (``postgresql://user@host/db``).

A URL may carry a password; it is never stored, printed or put in a message:
:func:`masked` is the form every message and ``store.path`` use.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

#: PostgreSQL's URL schemes (libpq's)
POSTGRES_SCHEMES = ("postgresql", "postgres")
# a URL as given, or after pathlib collapsed its "//" (str(Path("postgresql://h/db")))
_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):/+(.*)$", re.S)


def scheme_of(location: str) -> str | None:
    """The URL scheme of ``location``; None for a file path (``file:`` URIs are SQLite's)."""
    found = _URL.match(location)
    if found is None or found.group(1).lower() == "file" or len(found.group(1)) == 1:  # C:/ on Windows
        return None
    return found.group(1).lower()


def _normal(location: str) -> str:
    found = _URL.match(location)
    return f"{found.group(1)}://{found.group(2)}" if found else location


def masked(location: str) -> str:
    """``location`` with its password (if any) shown as ``***``; also masks ``password=`` in a query."""
    if scheme_of(location) is None:
        return location
    url = _normal(location)
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, hostinfo = netloc.rsplit("@", 1)
        if ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":***"
        netloc = f"{userinfo}@{hostinfo}"
    query = re.sub(r"(?i)(password=)[^&]*", r"\1***", parts.query)
    return parts._replace(netloc=netloc, query=query).geturl()


def secret_of(location: str) -> str | None:
    """The password a URL carries (to be removed from any message that quotes it)."""
    if scheme_of(location) is None:
        return None
    parts = urlsplit(_normal(location))
    found = re.search(r"(?i)password=([^&]*)", parts.query)
    return parts.password or (found.group(1) if found else None)


def folder_key(location: str) -> str:
    """A file name for a server's database (host, port, database; never the user or password):
    the journals of kernels writing to it are kept under it."""
    parts = urlsplit(_normal(location))
    host = parts.hostname or "local"
    try:
        port = str(parts.port or 5432)
    except ValueError:  # a port that is not a number: the server says so when connecting
        port = "port"
    raw = f"{parts.scheme}-{host}-{port}-{parts.path.strip('/') or 'db'}"
    return "".join(c if c.isalnum() or c in "-._" else "_" for c in raw)[:120]


def scrub(message: str, location: str) -> str:
    """``message`` with the password of ``location`` (as written, and decoded) taken out."""
    from urllib.parse import unquote

    secret = secret_of(location)
    if secret:
        for form in {secret, unquote(secret)}:
            message = message.replace(form, "***")
    return message.replace(_normal(location), masked(location))
