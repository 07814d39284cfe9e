"""A worker's torch threads: STEMDECK_TORCH_THREADS, else what the process may use (its CPU
affinity and cgroup quota), never torch's one-per-host-core default beyond that, so
replicas sharing a host do not each take every core."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from stemdeck.worker.runtime import cgroup_cpu_limit, cgroup_cpus

SHOW_THREADS = (
    "import logging, torch; logging.basicConfig(level=logging.INFO); "
    "from stemdeck.core.settings import Settings; "
    "from stemdeck.worker.runtime import limit_torch_threads; "
    "limit_torch_threads(Settings(_env_file=None)); print(torch.get_num_threads())"
)


def threads_on_cpu_0(**env: str) -> tuple[int, str]:
    """torch's threads in a worker process pinned to one CPU (as a cpuset would), and its log."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("STEMDECK_")}
    result = subprocess.run(
        ["taskset", "-c", "0", sys.executable, "-c", SHOW_THREADS],
        capture_output=True,
        text=True,
        env=clean | env,
        timeout=120,
        check=True,
    )
    return int(result.stdout.strip()), result.stderr


def test_by_default_a_worker_uses_only_the_cpus_it_may_run_on() -> None:
    threads, log = threads_on_cpu_0()
    assert threads == 1
    assert "torch uses 1 thread(s) (" in log


def test_stemdeck_torch_threads_is_honoured_as_given() -> None:
    threads, log = threads_on_cpu_0(STEMDECK_TORCH_THREADS="3")
    assert threads == 3
    assert "torch uses 3 thread(s) (STEMDECK_TORCH_THREADS)" in log


@pytest.mark.parametrize(
    ("cpu_max", "expected"),
    [("400000 100000\n", 4), ("150000 100000\n", 2), ("50000 100000\n", 1), ("max 100000\n", None)],
)
def test_a_cgroup_v2_quota_counts_whole_cpus(
    tmp_path: Path, cpu_max: str, expected: int | None
) -> None:
    (tmp_path / "cpu.max").write_text(cpu_max)
    assert cgroup_cpu_limit(v2=tmp_path / "cpu.max", v1=tmp_path / "none") == expected


def test_a_cgroup_v1_quota_counts_whole_cpus(tmp_path: Path) -> None:
    (tmp_path / "cpu.cfs_quota_us").write_text("200000\n")
    (tmp_path / "cpu.cfs_period_us").write_text("100000\n")
    assert cgroup_cpu_limit(v2=tmp_path / "absent", v1=tmp_path) == 2
    (tmp_path / "cpu.cfs_quota_us").write_text("-1\n")
    assert cgroup_cpu_limit(v2=tmp_path / "absent", v1=tmp_path) is None
    assert cgroup_cpu_limit(v2=tmp_path / "absent", v1=tmp_path / "absent") is None


def test_a_containers_quota_is_read_where_its_cgroup_is_mounted(tmp_path: Path) -> None:
    """In a container its own cgroup is the mount's root (/sys/fs/cgroup here a folder)."""
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("300000\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert cgroup_cpus(tmp_path) == 3
    assert cgroup_cpus(tmp_path / "nothing-mounted") is None
