"""The memory size the GOMAXPROCS rules judge: --memory, else the SAM template's function (MemorySize,
Globals merged; Lambda's default 128 MB when it names none), else unknown.

The template is read with coldlab.template (build=False: nothing is compiled). The function judged is the
one whose CodeUri is the module or one of its main packages; with one function in the template, that one.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from coldlab.errors import UsageError
from coldlab.lint.model import MemorySetting

TEMPLATE_NAMES = ("template.yaml", "template.yml")


def find_template(module_dir: Path) -> Path | None:
    """template.yaml in the module directory or the one above it (sam init puts go.mod in a subdirectory)."""
    for directory in (module_dir, module_dir.parent):
        for name in TEMPLATE_NAMES:
            if (directory / name).is_file():
                return directory / name
    return None


def memory_setting(
    module_dir: Path, main_dirs: Iterable[Path], memory_mb: int | None, template: Path | None
) -> MemorySetting:
    if memory_mb is not None:
        return MemorySetting(memory_mb, "--memory")
    path = template if template is not None else find_template(module_dir)
    if path is None:
        return MemorySetting(None, "")
    from coldlab.template import load_template

    functions = load_template(path, build=False).functions  # TemplateError: one line naming file and line
    wanted = {module_dir.resolve(), *(d.resolve() for d in main_dirs)}
    matching = [f for f in functions if f.config.code.resolve() in wanted]
    chosen = matching or (list(functions) if len(functions) == 1 else [])
    if not chosen:
        names = ", ".join(f.logical_id for f in functions)
        raise UsageError(
            f"{path}: no function's CodeUri is {module_dir} or one of its main packages ({names})",
            "pass --memory MB, or point CodeUri at the module",
        )
    spec = min(chosen, key=lambda f: f.config.memory_mb)  # the smallest is where GOMAXPROCS matters most
    where = f"{spec.source or path} (function {spec.logical_id})"
    return MemorySetting(
        spec.config.memory_mb,
        where,
        env_gomaxprocs=spec.config.environment.get("GOMAXPROCS"),
        layers=len(spec.layers),
    )
