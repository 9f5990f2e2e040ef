"""The tuner's view of prices: a small adapter over `coldlab.pricing` (the one place prices live)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol


class CostModel(Protocol):
    """What the analysis needs to know about prices."""

    def invocation(self, memory_mb: int, billed_ms: int, arch: str) -> float:
        """Cost in USD of one invocation: request fee + billed duration (which includes init when cold)."""
        ...

    def request(self) -> float:
        """The request fee in USD per invocation."""
        ...

    def describe(self) -> dict[str, object]:
        """Where the prices come from (region, date), for the report."""
        ...


class PricingCosts:
    """CostModel backed by `coldlab.pricing` (list prices; first volume tier; no free tier)."""

    def __init__(self, path: Path | None = None) -> None:
        from coldlab import pricing

        self._pricing = pricing
        self.prices = pricing.load_prices(path)

    def invocation(self, memory_mb: int, billed_ms: int, arch: str) -> float:
        # REPORT's Billed Duration already includes init on a cold start, so no separate init term here.
        return float(
            self._pricing.lambda_invocation_cost(
                self.prices, memory_mb=memory_mb, billed_duration_ms=billed_ms, arch=arch
            )
        )

    def request(self) -> float:
        return float(self.prices.lambda_request)

    def describe(self) -> dict[str, object]:
        return {
            "table": self.prices.origin,
            "date": self.prices.date,
            "region": self.prices.region,
            "currency": self.prices.currency,
            "gb_second_x86_64": float(self.prices.lambda_gb_second("x86_64")),
            "gb_second_arm64": float(self.prices.lambda_gb_second("arm64")),
            "request": self.request(),
            "tier": "first volume tier, no free tier",
        }
