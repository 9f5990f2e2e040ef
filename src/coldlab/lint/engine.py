"""lint(): run the Go helper over a module, add the rules that need the memory size, apply suppressions."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from coldlab import gotool
from coldlab.errors import ToolchainError, UsageError
from coldlab.lint.helper import Progress, run_helper
from coldlab.lint.memory import memory_setting
from coldlab.lint.model import CompileError, Facts, Finding, LintReport, MemorySetting, Position
from coldlab.lint.rules import RULES
from coldlab.lint.suppress import apply, scan

GOMAXPROCS_MEMORY_MB = 1769  # one full vCPU: below it Lambda grants less CPU time than one P can use


def module_root(directory: Path) -> Path | None:
    """The directory holding the go.mod that governs `directory` (as the go command finds it)."""
    for candidate in (directory, *directory.parents):
        if (candidate / "go.mod").is_file():
            return candidate
    return None


def default_jobs() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def lint(
    directory: Path,
    patterns: Sequence[str] = ("./...",),
    *,
    memory_mb: int | None = None,
    template: Path | None = None,
    jobs: int | None = None,
    progress: Progress | None = None,
    go: Path | None = None,
) -> LintReport:
    """Lint the Go packages `patterns` (go list patterns, relative to `directory`)."""
    if not directory.is_dir():
        raise UsageError(f"{directory} is not a directory", "pass --dir with a Go module's directory")
    directory = directory.resolve()
    module_dir = module_root(directory)
    if module_dir is None:
        raise UsageError(
            f"{directory} is not inside a Go module (no go.mod there or above)",
            "run coldlab lint from a module's directory or pass --dir MODULE; `go mod init` creates one",
        )
    if template is not None and not template.is_file():
        raise UsageError(f"template {template} does not exist", "pass --template with a SAM template.yaml")
    if jobs is not None and jobs < 1:
        raise UsageError(f"--jobs must be at least 1, not {jobs}")
    try:
        go = go or gotool.find_go()
    except ToolchainError as exc:  # bad set-up, not a bug: exit 2 as for other input problems
        raise UsageError(exc.message, exc.hint) from exc
    jobs = jobs or default_jobs()
    document = run_helper(directory, tuple(patterns), jobs=jobs, progress=progress, go=go)
    packages = document["packages"]
    if not any(p.get("files") for p in packages):  # go/packages gives a bad pattern as a package, no files
        said = "; ".join(e["message"] for e in document["errors"] if e["kind"] == "list")
        raise UsageError(
            f"no Go packages match {' '.join(patterns)} in {directory}" + (f": {said}" if said else ""),
            "check the package patterns (go list PATTERN shows what they match)",
        )

    def where(raw: dict[str, Any]) -> Position:
        shown = _shown(raw.get("file", ""), module_dir)
        return Position(shown, int(raw.get("line", 0)), int(raw.get("col", 0)))

    facts = _facts(document["facts"], module_dir, where)
    mains = [Path(p["dir"]) for p in packages if p.get("name") == "main" and p.get("dir")]
    memory = memory_setting(module_dir, mains, memory_mb, template)
    findings = [
        Finding(
            rule=raw["rule"],
            severity=RULES[raw["rule"]].severity,
            pos=where(raw["pos"]),
            message=raw["message"],
            call=raw.get("call", ""),
            via=tuple(raw.get("via") or ()),
        )
        for raw in document["findings"]
        if not (raw["rule"] == "sigterm-without-extension" and facts.extension)
    ]
    errors = _compile_errors(document["errors"], where)
    for error in errors:
        findings.append(
            Finding(
                rule="compile-error",
                severity=RULES["compile-error"].severity,
                pos=error.pos or Position(_shown(error.package, module_dir), 0, 0),
                message=f"{error.package} does not compile: {error.message}",
            )
        )
    findings += _gomaxprocs_findings(facts, memory)
    files = sorted({f for p in packages for f in p.get("files") or ()})
    suppressions = [s for f in files for s in scan(Path(f), _shown(f, module_dir))]
    findings = apply(findings, suppressions, RULES, RULES["bad-suppression"].severity)
    findings.sort(key=lambda f: (f.pos, f.rule))
    notes = []
    if facts.lambda_function and memory.memory_mb is None:
        notes.append(
            "the memory size is unknown (no --memory, no template.yaml): the GOMAXPROCS rule was not checked"
        )
    if errors:
        notes.append(f"{len(errors)} compile error(s): findings cover what parses and type-checks")
    return LintReport(
        module_dir=module_dir,
        patterns=tuple(patterns),
        packages=len(packages),
        files=len(files),
        findings=tuple(findings),
        errors=tuple(errors),
        facts=facts,
        memory=memory,
        notes=tuple(notes),
    )


def _compile_errors(raw: list[dict[str, Any]], where: Any) -> list[CompileError]:
    """The errors worth reading: go list's copy of the compiler's output is dropped where go/parser or
    go/types named the same errors with positions, and only the first parse error per file is kept (the
    rest are its echoes)."""
    positioned = {e["package"] for e in raw if e["kind"] in ("parse", "type") and e["pos"].get("file")}
    parsed_files: set[str] = set()
    errors = []
    for e in raw:
        if e["kind"] == "list" and e["package"] in positioned and e["message"].startswith("# "):
            continue
        if e["kind"] == "parse":
            if e["pos"].get("file") in parsed_files:
                continue
            parsed_files.add(e["pos"].get("file"))
        pos = where(e["pos"]) if e["pos"].get("file") else None
        errors.append(CompileError(e["package"], e["kind"], pos, e["message"]))
    return list(dict.fromkeys(errors))


def _shown(path: str, module_dir: Path) -> str:
    """A path relative to the module when it lies inside it (as go vet prints them), else as given."""
    if not path:
        return path
    try:
        return Path(path).relative_to(module_dir).as_posix()
    except ValueError:
        return path


def _facts(raw: dict[str, Any], module_dir: Path, where: Any) -> Facts:
    return Facts(
        module_path=raw.get("module_path", ""),
        module_dir=Path(raw.get("module_dir") or module_dir),
        go_version=raw.get("go_version", ""),
        lambda_function=bool(raw.get("lambda")),
        extension=bool(raw.get("extension")),
        lambda_starts=tuple(where(p) for p in raw.get("lambda_starts") or ()),
        automaxprocs=tuple(where(p) for p in raw.get("automaxprocs") or ()),
        gomaxprocs_calls=tuple(where(p) for p in raw.get("gomaxprocs") or ()),
        handlers=tuple(raw.get("handlers") or ()),
    )


def _gomaxprocs_findings(facts: Facts, memory: MemorySetting) -> list[Finding]:
    """automaxprocs in a Lambda function, and no GOMAXPROCS handling below 1,769 MB (needs the memory)."""
    from coldlab.sandbox.gomaxprocs import truth_table_pick

    if not facts.lambda_function:
        return []
    found = []
    size = f"at {memory.memory_mb} MB" if memory.memory_mb is not None else "on Lambda"
    picked = truth_table_pick("automaxprocs", memory.memory_mb or 128, visible=False)
    for pos in facts.automaxprocs:
        found.append(
            Finding(
                rule="automaxprocs-on-lambda",
                severity=RULES["automaxprocs-on-lambda"].severity,
                pos=pos,
                message=(
                    "go.uber.org/automaxprocs cannot see Lambda's CPU quota: "
                    f"it leaves GOMAXPROCS={picked} {size}"
                ),
                call="go.uber.org/automaxprocs",
            )
        )
    mb = memory.memory_mb
    if mb is None or mb >= GOMAXPROCS_MEMORY_MB or memory.env_gomaxprocs or facts.gomaxprocs_calls:
        return found
    go_picks = truth_table_pick("go1.25" if _at_least_125(facts.go_version) else "go1.24", mb, visible=False)
    pos = facts.lambda_starts[0] if facts.lambda_starts else Position("go.mod", 1, 1)
    found.append(
        Finding(
            rule="gomaxprocs-unset",
            severity=RULES["gomaxprocs-unset"].severity,
            pos=pos,
            message=(
                f"no GOMAXPROCS handling at {mb} MB ({mb / GOMAXPROCS_MEMORY_MB:.2f} vCPU, "
                f"from {memory.source}): "
                f"Go (go {facts.go_version or '?'} in go.mod) runs GOMAXPROCS={go_picks} on "
                f"{round(mb / GOMAXPROCS_MEMORY_MB * 100)}% of one CPU"
            ),
        )
    )
    return found


def _at_least_125(version: str) -> bool:
    parts = version.split(".")
    try:
        return (int(parts[0]), int(parts[1])) >= (1, 25)
    except (IndexError, ValueError):
        return False
