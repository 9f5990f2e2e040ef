"""SAM templates → FunctionSpec values: YAML with CloudFormation tags, Globals, intrinsics, Go builds."""

from __future__ import annotations
