"""How much memory this process may really use before the system kills it.

Read from files only, so that tests can hand it a fake ``/proc`` and
``/sys/fs/cgroup`` under ``root``. In order:

1. cgroup v2: the ``0::/path`` line of ``/proc/self/cgroup`` names the process's
   cgroup; its ``memory.max`` and ``memory.high`` and those of every ancestor up
   to the mount point apply (a container runtime often sets the limit on a parent
   such as ``kubepods/pod…``), so the lowest finite one wins. ``max`` means none.
2. cgroup v1: the ``memory`` controller's line, ``memory.limit_in_bytes`` of the
   cgroup and its ancestors; v1 writes a huge page-counter maximum (about 2**63)
   for "unlimited", which is no limit.
3. Otherwise the whole machine: ``MemAvailable`` plus the process's own RSS (what
   it holds already plus what it could still get). That sum stays about the same
   as the process grows, but other processes change it, so callers re-read it
   every few seconds (never per poll).

Physical RAM (``MemTotal``) caps whatever the cgroup says: a 1 PiB "limit" on a
64 GiB machine is a 64 GiB limit. Where cgroups are mounted comes from
``/proc/self/mountinfo`` (in a container the mount's root is the container's own
cgroup, not ``/``); without it the usual ``/sys/fs/cgroup`` places are tried.

Nothing here raises for a missing or unreadable file: a limit that cannot be
found is ``MemoryLimit(None, ...)`` with the reason in words.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nbprofile.format import format_bytes

#: cgroup v1 writes PAGE_COUNTER_MAX pages (2**63 minus a page) for "no limit"; no real limit is this big
V1_UNLIMITED_FROM = 2**60
_CGROUP_MOUNT = "sys/fs/cgroup"


@dataclass(frozen=True)
class MemoryLimit:
    """The memory this process may use: ``limit_bytes`` and where it comes from, or None and why not."""

    limit_bytes: int | None
    #: how the limit was found, in words ("cgroup v2 memory.max", "MemAvailable + own RSS"); "" when none
    source: str
    #: why there is no limit (when ``limit_bytes`` is None)
    reason: str | None = None
    #: MemTotal, the physical RAM, when /proc/meminfo could be read
    physical_bytes: int | None = None
    #: the cgroup whose file set the limit, as /proc/self/cgroup names it (an ancestor's when set there)
    cgroup: str | None = None

    def describe(self) -> str:
        if self.limit_bytes is None:
            return f"unknown ({self.reason})"
        where = f" of {self.cgroup}" if self.cgroup else ""
        return f"{format_bytes(self.limit_bytes)} ({self.source}{where})"


@dataclass(frozen=True)
class _Mount:
    point: Path  # where the hierarchy is mounted, under root
    base: str  # the cgroup path mounted there ("/" unless the mount is a container's own cgroup)


def _read(path: Path) -> str:
    with open(path, encoding="ascii", errors="replace") as f:
        return f.read()


def _unescape(field: str) -> str:
    """mountinfo writes a space in a path as ``\\040`` (octal escapes)."""
    if "\\" not in field:
        return field
    return field.encode("ascii", "replace").decode("unicode_escape")


def _mounts(root: Path) -> tuple[_Mount | None, _Mount | None]:
    """The cgroup v2 mount and the v1 mount holding the memory controller."""
    try:
        text = _read(root / "proc/self/mountinfo")
    except OSError:
        text = ""  # no mountinfo (a bare test tree, an odd sandbox): the usual places below
    v2 = v1 = None
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if not sep or len(fields) < 5 or len(tail) < 3:
            continue
        mount = _Mount(root / _unescape(fields[4]).lstrip("/"), _unescape(fields[3]))
        if tail[0] == "cgroup2" and v2 is None:
            v2 = mount
        elif tail[0] == "cgroup" and "memory" in tail[2].split(",") and v1 is None:
            v1 = mount
    if not text:
        base = root / _CGROUP_MOUNT
        unified = base if (base / "cgroup.controllers").exists() else base / "unified"
        v2, v1 = _Mount(unified, "/"), _Mount(base / "memory", "/")
    return v2, v1


def _own_cgroups(root: Path) -> tuple[str | None, str | None]:
    """The process's cgroup path in the v2 hierarchy and in v1's memory hierarchy."""
    v2 = v1 = None
    for line in _read(root / "proc/self/cgroup").splitlines():
        number, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if number == "0" and controllers == "":
            v2 = path
        elif "memory" in controllers.split(","):
            v1 = path
    return v2, v1


def _dirs(mount: _Mount, path: str) -> list[tuple[Path, str]]:
    """The cgroup's directory and each ancestor's up to the mount point, with the path each stands for."""
    base = mount.base.rstrip("/")
    if path == base or path.startswith(base + "/"):
        rel = path[len(base):].strip("/")
    else:
        rel = ""  # a path outside what is mounted here: only the mount's own cgroup is visible
    if rel and not (mount.point / rel).is_dir():
        rel = ""  # /proc names a cgroup this mount does not show (a container without a cgroup namespace)
    parts = [p for p in rel.split("/") if p and p != ".."]
    out = []
    for n in range(len(parts), -1, -1):
        out.append((mount.point.joinpath(*parts[:n]), (base + "/" + "/".join(parts[:n])).rstrip("/") or "/"))
    return out


def _lowest(dirs: list[tuple[Path, str]], files: tuple[str, ...], problems: list[str],
            unlimited: int | None) -> tuple[int, str, str] | None:
    """The lowest finite value of ``files`` over ``dirs``: (bytes, file, cgroup path)."""
    best: tuple[int, str, str] | None = None
    for directory, cgroup in dirs:
        for name in files:
            try:
                text = _read(directory / name).strip()
            except FileNotFoundError:
                continue  # the root cgroup has no limit files; an ancestor may not either
            except OSError as exc:
                problems.append(f"cannot read {directory / name}: {exc.strerror or exc}")
                continue
            if text == "max":
                continue
            try:
                value = int(text)
            except ValueError:
                problems.append(f"{directory / name} holds {text[:40]!r}, not a number")
                continue
            if unlimited is not None and value >= unlimited:
                continue
            if best is None or value < best[0]:
                best = (value, name, cgroup)
    return best


def _meminfo(root: Path) -> dict[str, int]:
    """/proc/meminfo in bytes, by field."""
    out = {}
    for line in _read(root / "proc/meminfo").splitlines():
        key, _, value = line.partition(":")
        words = value.split()
        if words and words[0].isdigit():
            out[key] = int(words[0]) * (1024 if words[1:2] == ["kB"] else 1)
    return out


def _own_rss(root: Path) -> int:
    """VmRSS of /proc/self/status in bytes (kB there on every page size, unlike statm's pages)."""
    for line in _read(root / "proc/self/status").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise ValueError("no VmRSS line")


def _cgroup_limit(root: Path, problems: list[str]) -> tuple[int, str, str] | None:
    """The lowest cgroup limit that applies: (bytes, source in words, cgroup path)."""
    try:
        v2_path, v1_path = _own_cgroups(root)
    except OSError as exc:
        problems.append(f"cannot read {root / 'proc/self/cgroup'}: {exc.strerror or exc}")
        return None
    v2_mount, v1_mount = _mounts(root)
    if v2_path is not None and v2_mount is not None:
        found = _lowest(_dirs(v2_mount, v2_path), ("memory.max", "memory.high"), problems, None)
        if found is not None:
            return found[0], f"cgroup v2 {found[1]}", found[2]
    if v1_path is not None and v1_mount is not None:  # a v1 host, or a hybrid one with memory on v1
        found = _lowest(_dirs(v1_mount, v1_path), ("memory.limit_in_bytes",), problems, V1_UNLIMITED_FROM)
        if found is not None:
            return found[0], f"cgroup v1 {found[1]}", found[2]
    return None


def discover_memory_limit(root: str | Path = "/") -> MemoryLimit:
    """The memory this process may use (see the module's docstring for the order). Never raises."""
    base = Path(root)
    problems: list[str] = []
    try:
        info = _meminfo(base)
    except OSError as exc:
        info = {}
        problems.append(f"cannot read {base / 'proc/meminfo'}: {exc.strerror or exc}")
    physical = info.get("MemTotal")
    cgroup = _cgroup_limit(base, problems)
    if cgroup is not None:
        value, source, path = cgroup
        if physical is not None and physical < value:  # the cgroup allows more than the machine has
            return MemoryLimit(physical, f"MemTotal (physical RAM, below the {source} of "
                                         f"{format_bytes(value)})", physical_bytes=physical)
        return MemoryLimit(value, source, physical_bytes=physical, cgroup=path)
    available = info.get("MemAvailable")
    if available is None:
        if info:
            problems.append("/proc/meminfo has no MemAvailable (Linux < 3.14)")
        return _none(problems, physical)
    try:
        rss = _own_rss(base)
    except (OSError, ValueError) as exc:
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        problems.append(f"cannot read this process's RSS from {base / 'proc/self/status'}: {detail}")
        return _none(problems, physical)
    total = available + rss if physical is None else min(available + rss, physical)
    return MemoryLimit(total, "MemAvailable + own RSS", physical_bytes=physical)


def _none(problems: list[str], physical: int | None) -> MemoryLimit:
    detail = "; ".join(problems) or "no cgroup limit, and no /proc/meminfo"
    return MemoryLimit(None, "", reason=f"no memory limit found: {detail}", physical_bytes=physical)


@dataclass(frozen=True)
class OomCounter:
    """Where this process's cgroup counts OOM kills: found once (reading ``mountinfo`` can
    wait for a process that is allocating fast), then read as one small cgroupfs file."""

    path: Path
    cgroup: str

    def read(self) -> int | None:
        try:
            text = _read(self.path)
        except OSError:
            return None
        for line in text.splitlines():
            words = line.split()
            if len(words) == 2 and words[0] == "oom_kill" and words[1].isdigit():
                return int(words[1])
        return None


def find_oom_counter(root: str | Path = "/") -> OomCounter | None:
    """This process's OOM-kill counter, or None where it has none that can be read."""
    found = _oom_counter(Path(root))
    return None if found is None else found[2]


def _oom_counter(root: Path) -> tuple[int, str, OomCounter] | None:
    """(``oom_kill``, the cgroup it counts for) from the first counter this process's cgroups have."""
    try:
        v2_path, v1_path = _own_cgroups(root)
    except OSError:
        return None  # no /proc/self/cgroup: not Linux, or a sandbox without cgroups; None says "unknown"
    v2_mount, v1_mount = _mounts(root)
    candidates: list[tuple[Path, str]] = []
    if v2_path is not None and v2_mount is not None:
        directory, cgroup = _dirs(v2_mount, v2_path)[0]
        candidates.append((directory / "memory.events", cgroup))
    if v1_path is not None and v1_mount is not None:
        directory, cgroup = _dirs(v1_mount, v1_path)[0]
        candidates.append((directory / "memory.oom_control", cgroup))
    for path, cgroup in candidates:
        counter = OomCounter(path, cgroup)
        count = counter.read()  # the other hierarchy may have it (hybrid hosts; v2's root has none)
        if count is not None:
            return count, cgroup, counter
    return None


def oom_kill_count(root: str | Path = "/") -> int | None:
    """How many processes of this process's cgroup the OOM killer has killed (any OOM, the
    machine's included, on Linux >= 4.13): ``oom_kill`` of cgroup v2 ``memory.events`` or v1
    ``memory.oom_control``. None where neither can be read (the root cgroup has neither).

    A count that grew between a kernel's last heartbeat and its death says the OOM killer
    took it (or another process of the same cgroup at that moment); compare counts only
    between processes with the same :func:`cgroup_path`."""
    found = _oom_counter(Path(root))
    return None if found is None else found[0]


def cgroup_path(root: str | Path = "/") -> str | None:
    """The cgroup whose counter :func:`oom_kill_count` reads, as ``/proc/self/cgroup`` names it
    (``/user.slice/...``; ``/`` inside a container's own cgroup namespace); None without one."""
    found = _oom_counter(Path(root))
    return None if found is None else found[1]
