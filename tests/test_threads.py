"""CPU thread defaults (zoo.utils.threads): the CPUs a process may use, the environment set before
torch loads, and ``--threads``. Why they exist is measured in benchmarks/threads.md."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from zoo.errors import ZooError
from zoo.utils import threads


def test_available_cpus_is_the_affinity_mask_capped_by_the_cgroup_quota(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3, 4, 5, 6, 7})
    cpu_max = tmp_path / "cpu.max"
    monkeypatch.setattr(threads, "CGROUP_V2", cpu_max)
    monkeypatch.setattr(threads, "CGROUP_V1", (tmp_path / "q", tmp_path / "p"))
    assert threads.available_cpus() == 8  # no cgroup file: the affinity mask
    cpu_max.write_text("max 100000\n")
    assert threads.available_cpus() == 8  # unlimited quota
    cpu_max.write_text("150000 100000\n")
    assert threads.available_cpus() == 2  # 1.5 CPUs of quota: 2 threads
    cpu_max.write_text("50000 100000\n")
    assert threads.available_cpus() == 1
    cpu_max.unlink()
    (tmp_path / "q").write_text("300000\n")
    (tmp_path / "p").write_text("100000\n")
    assert threads.available_cpus() == 3  # cgroup v1
    (tmp_path / "q").write_text("-1\n")
    assert threads.available_cpus() == 8


def test_configure_process_keeps_what_the_user_set(monkeypatch):
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("ZOO_THREADS", raising=False)
    monkeypatch.setattr(threads, "available_cpus", lambda: 3)
    threads.configure_process()
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE" and os.environ["OMP_NUM_THREADS"] == "3"
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # torchrun sets it for each process
    threads.configure_process()
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE" and os.environ["OMP_NUM_THREADS"] == "1"
    monkeypatch.delenv("OMP_NUM_THREADS")
    monkeypatch.setenv("ZOO_THREADS", "5")
    threads.configure_process()
    assert os.environ["OMP_NUM_THREADS"] == "5"
    monkeypatch.delenv("OMP_NUM_THREADS")
    monkeypatch.setenv("ZOO_THREADS", "many")
    with pytest.raises(ZooError, match="ZOO_THREADS must be a whole number from 1 to 1024, got 'many'"):
        threads.configure_process()
    monkeypatch.setenv("ZOO_THREADS", "1000000")  # a typo that would abort the interpreter (RLIMIT_NPROC)
    with pytest.raises(ZooError, match="ZOO_THREADS must be a whole number from 1 to 1024, got '1000000'"):
        threads.configure_process()


def test_set_threads_changes_torch_and_refuses_zero():
    before = torch.get_num_threads()
    try:
        assert threads.set_threads(1) == 1 == torch.get_num_threads()
    finally:
        torch.set_num_threads(before)
    with pytest.raises(ZooError, match="must be at least 1, got 0"):
        threads.set_threads(0)


def test_the_zoo_command_starts_torch_with_passive_threads_on_the_available_cpus():
    """``python -m zoo`` sets the variables before torch loads (``zoo --help`` imports no torch):
    torch then runs on the available CPUs with passive waiting; an explicit OMP_NUM_THREADS wins."""
    probe = (
        "import os, sys\n"
        "from zoo.__main__ import main\n"
        "assert main(['--help']) == 0 and 'torch' not in sys.modules\n"
        "import torch\n"
        "from zoo.utils.threads import available_cpus\n"
        "print(torch.get_num_threads(), available_cpus(), os.environ['OMP_WAIT_POLICY'])\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "ZOO_THREADS")}
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True).stdout.split()
    assert out[-3] == out[-2] and out[-1] == "PASSIVE"
    env["OMP_NUM_THREADS"] = "1"
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True).stdout.split()
    assert out[-3] == "1"
