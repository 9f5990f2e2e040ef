"""coldlab: the serverless runtime contract for Go, on one Linux machine."""

from __future__ import annotations

__version__ = "0.1.0"
