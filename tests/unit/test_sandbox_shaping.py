"""Pure parts of resource shaping: limits ranges, CPU quota arithmetic, relocation to /var/task, the
interpreter reveal, and how a host is chosen."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from coldlab.errors import UsageError
from coldlab.sandbox import Limits, choose_host, vcpus_for_memory
from coldlab.sandbox.isolation import FunctionUser, interpreter_reveal, relocate
from coldlab.sandbox.select import _candidates
from coldlab.sandbox.signals import SignalHost
from coldlab.sandbox.spawning import cfs_quota_us, check_limits, cpu_description, effective_vcpus


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        (Limits(memory_mb=127), "memory size 127 MB is out of range"),
        (Limits(memory_mb=10241), "memory size 10241 MB is out of range"),
        (Limits(memory_mb=128, ephemeral_storage_mb=511), "ephemeral storage 511 MB is out of range"),
        (Limits(memory_mb=128, ephemeral_storage_mb=10241), "ephemeral storage 10241 MB is out of range"),
        (Limits(memory_mb=128, cpu_visibility="sideways"), "CPU visibility 'sideways' is not known"),
    ],
)
def test_out_of_range_limits_are_usage_errors(limits: Limits, message: str) -> None:
    with pytest.raises(UsageError, match=message) as caught:
        check_limits(limits)
    assert caught.value.exit_code == 2


def test_edges_of_the_ranges_are_accepted() -> None:
    for limits in (Limits(128), Limits(10240, ephemeral_storage_mb=10240), Limits(1769, cpu_visibility="leaf")):
        check_limits(limits)


@pytest.mark.parametrize(
    ("memory_mb", "cpus", "quota"),
    [
        (128, 2, 1447),  # 0.072 vCPU of a 20 ms period
        (256, 2, 2894),
        (1769, 2, 20000),  # one vCPU
        (3538, 4, 40000),
        (10240, 8, 115771),  # 5.79 vCPU: linear credit, not the stepped visible cores
        (10240, 2, 40000),  # capped at this machine's 2 CPUs
    ],
)
def test_cfs_quota_is_memory_over_1769(memory_mb: int, cpus: int, quota: int) -> None:
    assert cfs_quota_us(effective_vcpus(Limits(memory_mb), cpus)) == quota


def test_vcpus_are_capped_at_six() -> None:
    assert vcpus_for_memory(10240) == pytest.approx(5.788, abs=1e-3)
    assert vcpus_for_memory(20000) == 6


def test_cpu_description_names_the_placement_and_the_cap() -> None:
    text, notes = cpu_description(Limits(128), 2)
    assert text.startswith("cfs-quota (0.072 vCPU") and "parent cgroup, hidden from the function" in text
    assert notes == ()
    text, notes = cpu_description(Limits(10240, cpu_visibility="leaf"), 2)
    assert "leaf cgroup" in text and "2.000 vCPU" in text
    assert notes == ("10240 MB buys 5.79 vCPU; this machine has 2 CPUs: capped at 2",)


def test_relocation_moves_the_code_directory_to_var_task(tmp_path: Path) -> None:
    code = tmp_path / "code"
    (code / "lib").mkdir(parents=True)
    (code / "bootstrap").write_text("#!/bin/sh\n")
    (code / "link").symlink_to("bootstrap")
    env = {
        "LAMBDA_TASK_ROOT": str(code),
        "LD_LIBRARY_PATH": f"/lib:{code}/lib",
        "OTHER": "/elsewhere",
        "_HANDLER": "bootstrap",
    }
    moved = relocate([str(code / "bootstrap"), "--flag", str(code)], env, code)
    assert moved.argv == ("/var/task/bootstrap", "--flag", "/var/task")
    assert moved.env["LAMBDA_TASK_ROOT"] == "/var/task"
    assert moved.env["LD_LIBRARY_PATH"] == "/lib:/var/task/lib"
    assert moved.env["OTHER"] == "/elsewhere"
    assert moved.source == code.resolve()
    assert moved.entries is not None
    kinds = {entry.name: (entry.kind, entry.target) for entry in moved.entries}
    assert kinds == {"lib": ("dir", ""), "bootstrap": ("file", ""), "link": ("symlink", "bootstrap")}


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A directory every user can reach (pytest's own tmp dirs are 0700)."""
    path = Path(tempfile.mkdtemp(dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


def test_interpreter_under_a_closed_directory_is_revealed(open_dir: Path) -> None:
    user = FunctionUser("fn", 54321, 54321, "fixed-uid")
    tmp_path = open_dir
    home = tmp_path / "home"
    prefix = home / ".pyenv" / "3.11"
    (prefix / "bin").mkdir(parents=True)
    (prefix / "bin" / "python").write_text("")
    home.chmod(0o700)  # like /root: the function user cannot enter
    script = tmp_path / "bootstrap"
    script.write_text(f"#!{prefix}/bin/python -u\nprint('hi')\n")
    assert interpreter_reveal(script, user) == (str(home), str(prefix))
    home.chmod(0o755)
    assert interpreter_reveal(script, user) is None  # reachable: nothing to do
    script.write_text("#!/bin/sh\n")
    assert interpreter_reveal(script, user) is None
    script.write_bytes(b"\x7fELF")
    assert interpreter_reveal(script, user) is None


def test_no_cgroups_at_all_gives_the_unprivileged_host_with_reasons(tmp_path: Path) -> None:
    chosen = choose_host(tmp_path / "none", prefer="auto")
    assert isinstance(chosen.host, SignalHost)
    assert chosen.degraded
    assert [t.split(":")[0] for t in chosen.tried] == ["cgroup-v1", "cgroup-v2"]
    assert chosen.notice is not None and "freeze=sigstop-process-group" in chosen.notice
    assert "not-limited" in chosen.host.fidelity(Limits(128)).cpu
    assert chosen.host.fidelity(Limits(128)).as_dict()["host"] == "unprivileged"


def test_asking_for_the_unprivileged_host_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLDLAB_SANDBOX", "unprivileged")
    chosen = choose_host()
    assert isinstance(chosen.host, SignalHost)
    assert chosen.reason == "asked for by COLDLAB_SANDBOX"
    assert chosen.tried == ()


def test_an_unknown_sandbox_kind_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLDLAB_SANDBOX", "docker")
    with pytest.raises(UsageError, match="COLDLAB_SANDBOX='docker' is not a sandbox kind"):
        choose_host()


def test_candidate_order(tmp_path: Path) -> None:
    assert _candidates(tmp_path, "auto") == [("cgroup-v1", tmp_path), ("cgroup-v2", tmp_path / "unified")]
    assert _candidates(tmp_path, "cgroup-v2")[0] == ("cgroup-v2", tmp_path / "unified")
    (tmp_path / "cgroup.controllers").write_text("cpu memory")
    assert _candidates(tmp_path, "auto") == [("cgroup-v2", tmp_path)]  # pure v2 machine
    assert _candidates(tmp_path, "unprivileged") == []
