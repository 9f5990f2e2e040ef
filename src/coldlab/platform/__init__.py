"""Execution environment lifecycle: init → invoke → freeze → ... → shutdown, and its reports."""

from __future__ import annotations

from coldlab.platform.environment import Environment
from coldlab.platform.result import ColdStartPhases, InitOutcome, InvocationResult

__all__ = ["ColdStartPhases", "Environment", "InitOutcome", "InvocationResult"]
