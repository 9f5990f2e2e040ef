"""`coldlab doctor` as a user runs it (a separate process: the host is chosen once per run)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

COLDLAB = [sys.executable, "-m", "coldlab"]


def doctor(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COLDLAB, "doctor", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=60,
        check=False,
    )


def test_json_names_every_mechanism_and_why() -> None:
    result = doctor("--json", "--memory", "256")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["schema"] == "coldlab.doctor/1"
    assert set(doc["mechanisms"]) == {"freeze", "cpu", "init_cpu", "memory", "memory_peak", "isolation", "spawn"}
    assert doc["mechanisms"]["spawn"].startswith("zygote (a pre-forked spawner, pid ")
    assert doc["reason"]
    assert doc["limits"] == {"memory_mb": 256, "cpu_visibility": "parent"}
    if doc["host"] == "cgroup-v1":
        assert doc["mechanisms"]["freeze"] == "cgroup-v1-freezer"
        assert doc["mechanisms"]["cpu"].startswith("cfs-quota (0.145 vCPU")
        assert doc["degraded"] is False and doc["notice"] is None


def test_forced_fallback_is_reported_not_silent() -> None:
    result = doctor("--json", COLDLAB_SANDBOX="unprivileged")
    doc = json.loads(result.stdout)
    assert doc["host"] == "unprivileged"
    assert doc["degraded"] is True
    assert doc["mechanisms"]["freeze"] == "sigstop-process-group"
    assert doc["mechanisms"]["cpu"] == "not-limited (asked for by COLDLAB_SANDBOX)"
    assert "resource shaping is degraded" in doc["notice"]


def test_people_get_a_table_with_the_reason() -> None:
    result = doctor(COLDLAB_SANDBOX="unprivileged")
    assert result.returncode == 0
    assert "mechanism in force" in result.stderr
    assert "why: asked for by COLDLAB_SANDBOX" in result.stderr


def test_bad_input_is_one_line_and_exit_2() -> None:
    for args, env, message in (
        (("--memory", "64"), {}, "memory size 64 MB is out of range"),
        ((), {"COLDLAB_SANDBOX": "docker"}, "COLDLAB_SANDBOX='docker' is not a sandbox kind"),
    ):
        result = doctor(*args, **env)
        assert result.returncode == 2
        assert message in result.stderr
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
