"""The memory a process may really use, found in fake /proc and /sys/fs/cgroup trees built per case,
and once in this machine's real ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from nbprofile.meters.memory_limit import (
    MemoryLimit,
    cgroup_path,
    discover_memory_limit,
    oom_kill_count,
)

KiB, MiB, GiB = 1024, 1024**2, 1024**3
V1_UNLIMITED = "9223372036854771712"  # what cgroup v1 writes for "no limit" on 4 KiB pages
MEMINFO = "MemTotal:       16777216 kB\nMemFree:         1000000 kB\nMemAvailable:    8388608 kB\n"
STATUS = "Name:\tpython\nVmHWM:\t  600000 kB\nVmRSS:\t  524288 kB\n"
AVAILABLE_PLUS_RSS = 8 * GiB + 512 * MiB
V2 = "sys/fs/cgroup"
V1 = "sys/fs/cgroup/memory"


def tree(root: Path, cgroup: str, files: dict[str, str], *, meminfo: str | None = MEMINFO,
         status: str | None = STATUS, v2_mount: bool = True) -> Path:
    """A fake root: /proc/self/cgroup, /proc/meminfo, /proc/self/status and cgroup files (relative paths)."""
    (root / "proc/self").mkdir(parents=True)
    (root / "proc/self/cgroup").write_text(cgroup)
    if meminfo is not None:
        (root / "proc/meminfo").write_text(meminfo)
    if status is not None:
        (root / "proc/self/status").write_text(status)
    if v2_mount:  # a cgroup v2 host has the unified hierarchy at /sys/fs/cgroup itself
        (root / V2).mkdir(parents=True)
        (root / V2 / "cgroup.controllers").write_text("cpu memory pids\n")
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


CASES: list[tuple[str, str, dict[str, str], MemoryLimit]] = [
    ("v2 memory.max", "0::/user.slice/app\n",
     {f"{V2}/user.slice/app/memory.max": f"{2 * GiB}\n", f"{V2}/user.slice/app/memory.high": "max\n"},
     MemoryLimit(2 * GiB, "cgroup v2 memory.max", physical_bytes=16 * GiB, cgroup="/user.slice/app")),
    ("v2 memory.high below memory.max", "0::/user.slice/app\n",
     {f"{V2}/user.slice/app/memory.max": f"{2 * GiB}\n", f"{V2}/user.slice/app/memory.high": f"{GiB}\n"},
     MemoryLimit(GiB, "cgroup v2 memory.high", physical_bytes=16 * GiB, cgroup="/user.slice/app")),
    ("v2 'max' everywhere: the machine's memory", "0::/user.slice/app\n",
     {f"{V2}/user.slice/app/memory.max": "max\n", f"{V2}/user.slice/memory.max": "max\n"},
     MemoryLimit(AVAILABLE_PLUS_RSS, "MemAvailable + own RSS", physical_bytes=16 * GiB)),
    ("v2 limit on an ancestor", "0::/kubepods/pod1/ctr\n",
     {f"{V2}/kubepods/pod1/ctr/memory.max": "max\n", f"{V2}/kubepods/pod1/memory.max": f"{GiB}\n",
      f"{V2}/kubepods/memory.max": f"{4 * GiB}\n"},
     MemoryLimit(GiB, "cgroup v2 memory.max", physical_bytes=16 * GiB, cgroup="/kubepods/pod1")),
    ("v2 own limit looser than an ancestor's", "0::/a/b\n",
     {f"{V2}/a/b/memory.max": f"{3 * GiB}\n", f"{V2}/a/memory.high": f"{GiB + 5}\n"},
     MemoryLimit(GiB + 5, "cgroup v2 memory.high", physical_bytes=16 * GiB, cgroup="/a")),
    ("v1 memory.limit_in_bytes", "4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n",
     {f"{V1}/docker/abc/memory.limit_in_bytes": f"{512 * MiB}\n",
      f"{V1}/docker/memory.limit_in_bytes": V1_UNLIMITED + "\n"},
     MemoryLimit(512 * MiB, "cgroup v1 memory.limit_in_bytes", physical_bytes=16 * GiB, cgroup="/docker/abc")),
    ("v1 unlimited: the machine's memory", "4:memory:/docker/abc\n",
     {f"{V1}/docker/abc/memory.limit_in_bytes": V1_UNLIMITED + "\n",
      f"{V1}/memory.limit_in_bytes": V1_UNLIMITED + "\n"},
     MemoryLimit(AVAILABLE_PLUS_RSS, "MemAvailable + own RSS", physical_bytes=16 * GiB)),
    ("hybrid host: v2 mounted without memory, v1 has the limit", "0::/\n4:memory:/job\n",
     {f"{V2}/unified/cgroup.procs": "", f"{V1}/job/memory.limit_in_bytes": f"{3 * GiB}\n"},
     MemoryLimit(3 * GiB, "cgroup v1 memory.limit_in_bytes", physical_bytes=16 * GiB, cgroup="/job")),
    ("no cgroup limit files at all", "0::/\n", {},
     MemoryLimit(AVAILABLE_PLUS_RSS, "MemAvailable + own RSS", physical_bytes=16 * GiB)),
    ("a cgroup limit above physical RAM is physical RAM", "0::/big\n",
     {f"{V2}/big/memory.max": f"{2**50}\n"},
     MemoryLimit(16 * GiB, "MemTotal (physical RAM, below the cgroup v2 memory.max of 1024 TiB)",
                 physical_bytes=16 * GiB)),
    ("a garbled limit file is skipped", "0::/odd\n", {f"{V2}/odd/memory.max": "lots\n"},
     MemoryLimit(AVAILABLE_PLUS_RSS, "MemAvailable + own RSS", physical_bytes=16 * GiB)),
]


@pytest.mark.parametrize(("case", "cgroup", "files", "expected"), CASES, ids=[c[0] for c in CASES])
def test_the_limit_and_where_it_comes_from(tmp_path: Path, case: str, cgroup: str, files: dict[str, str],
                                           expected: MemoryLimit) -> None:
    hybrid = "hybrid" in case
    assert discover_memory_limit(tree(tmp_path, cgroup, files, v2_mount=not hybrid)) == expected


def test_a_containers_own_cgroup_is_the_mount_root(tmp_path: Path) -> None:
    """Without a cgroup namespace, /proc names the host's path while the mount shows only the container's
    cgroup: mountinfo says which path is mounted where."""
    root = tree(tmp_path, "0::/system.slice/docker-abc.scope\n", {f"{V2}/memory.max": f"{768 * MiB}\n"})
    (root / "proc/self/mountinfo").write_text(
        "22 1 0:20 / /proc rw - proc proc rw\n"
        "30 22 0:26 /system.slice/docker-abc.scope /sys/fs/cgroup ro,nosuid - cgroup2 cgroup2 rw\n")
    found = discover_memory_limit(root)
    assert (found.limit_bytes, found.source, found.cgroup) == (768 * MiB, "cgroup v2 memory.max",
                                                              "/system.slice/docker-abc.scope")
    assert found.describe() == "768 MiB (cgroup v2 memory.max of /system.slice/docker-abc.scope)"


def test_mountinfo_places_a_v1_memory_hierarchy_anywhere(tmp_path: Path) -> None:
    root = tree(tmp_path, "7:memory:/slurm/job_42\n", {"cg/mem/slurm/job_42/memory.limit_in_bytes": "1000000\n"},
                v2_mount=False)
    (root / "proc/self/mountinfo").write_text(
        "40 31 0:32 / /cg/mem rw,relatime - cgroup cgroup rw,memory\n"
        "41 31 0:33 / /cg/cpu rw,relatime - cgroup cgroup rw,cpu,cpuacct\n")
    assert discover_memory_limit(root).limit_bytes == 1000000


@pytest.mark.parametrize(("meminfo", "status", "why"), [
    (None, STATUS, "meminfo"),
    ("MemTotal: 1000 kB\nMemFree: 10 kB\n", STATUS, "no MemAvailable"),
    (MEMINFO, None, "RSS"),
    (MEMINFO, "Name:\tpython\n", "RSS"),
])
def test_unreadable_files_give_no_limit_and_say_why(tmp_path: Path, meminfo: str | None, status: str | None,
                                                    why: str) -> None:
    found = discover_memory_limit(tree(tmp_path, "0::/\n", {}, meminfo=meminfo, status=status))
    assert found.limit_bytes is None and found.source == ""
    assert found.reason is not None and why in found.reason and found.reason.startswith("no memory limit found")
    assert found.describe().startswith("unknown (no memory limit found")


def test_an_unreadable_limit_file_is_named_when_no_limit_is_found(tmp_path: Path) -> None:
    root = tree(tmp_path, "0::/x\n", {}, meminfo=None)
    (root / V2 / "x/memory.max").mkdir(parents=True)  # a directory where a file should be: unreadable
    found = discover_memory_limit(root)
    assert found.limit_bytes is None and found.reason is not None and "memory.max" in found.reason


def test_nothing_at_all_is_no_limit_not_an_exception(tmp_path: Path) -> None:
    found = discover_memory_limit(tmp_path)
    assert found.limit_bytes is None and found.reason and "cgroup" in found.reason


def test_oom_kill_counts(tmp_path: Path) -> None:
    events = "low 0\nhigh 4\nmax 12\noom 3\noom_kill 2\noom_group_kill 0\n"
    v2 = tree(tmp_path / "v2", "0::/user.slice/k\n", {f"{V2}/user.slice/k/memory.events": events})
    assert (oom_kill_count(v2), cgroup_path(v2)) == (2, "/user.slice/k")
    v1 = tree(tmp_path / "v1", "4:memory:/job\n",
              {f"{V1}/job/memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 5\n"}, v2_mount=False)
    assert (oom_kill_count(v1), cgroup_path(v1)) == (5, "/job")
    old_kernel = tree(tmp_path / "old", "4:memory:/job\n",
                      {f"{V1}/job/memory.oom_control": "oom_kill_disable 0\nunder_oom 0\n"}, v2_mount=False)
    root_cgroup = tree(tmp_path / "root", "0::/\n", {})
    for nothing in (old_kernel, root_cgroup, tmp_path / "empty"):
        assert (oom_kill_count(nothing), cgroup_path(nothing)) == (None, None)


def test_this_machines_limit_is_real() -> None:
    """The real /proc and /sys: some limit, no more than the physical RAM, and a source in words."""
    found = discover_memory_limit()
    assert found.limit_bytes is not None and found.limit_bytes > 64 * MiB, found
    assert found.physical_bytes is not None and found.limit_bytes <= found.physical_bytes
    assert found.source.startswith(("cgroup v2 ", "cgroup v1 ", "MemAvailable", "MemTotal"))
