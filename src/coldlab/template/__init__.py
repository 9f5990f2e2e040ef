"""SAM templates → FunctionSpec values: YAML with CloudFormation tags, Globals, intrinsics, Go builds.

`load_template(path, parameters)` is the one entry point; `parse_parameter_overrides` turns the CLI's
`--parameter-overrides` items into its `parameters`.
"""

from __future__ import annotations

from coldlab.template.gobuild import GoSourceBuilder, user_cache_dir
from coldlab.template.loader import TemplateResult, load_template
from coldlab.template.nodes import TemplateError
from coldlab.template.parameters import parse_parameter_overrides

__all__ = [
    "GoSourceBuilder",
    "TemplateError",
    "TemplateResult",
    "load_template",
    "parse_parameter_overrides",
    "user_cache_dir",
]
