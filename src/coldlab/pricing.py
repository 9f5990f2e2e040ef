"""Dated price tables and cost arithmetic for AWS Lambda and Google Cloud Run.

Prices live in one JSON file (`coldlab/data/prices-<date>.json`, with its sources and date); a user can pass
their own file of the same shape to `load_prices(path)`. Lambda bills duration in 1 ms steps on GB-seconds
(memory_mb / 1024 GB), with monthly volume tiers per architecture; Cloud Run bills in 100 ms steps.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from coldlab.errors import UsageError

BUNDLED_PRICES = "prices-2026-11-26.json"
ARCHITECTURES = ("x86_64", "arm64")
MB_PER_GB = 1024.0  # Lambda's GB-second: 128 MB is 0.125 GB


@dataclass(frozen=True)
class DurationTier:
    """Monthly duration tier: GB-seconds up to `up_to_gb_seconds` (None: no upper bound) cost `gb_second`."""

    up_to_gb_seconds: float | None
    gb_second: float


@dataclass(frozen=True)
class LambdaArchPrices:
    duration_tiers: tuple[DurationTier, ...]
    provisioned_gb_second: float  # per GB-s of configured provisioned concurrency, busy or not
    provisioned_duration_gb_second: float  # per GB-s of duration run on a provisioned environment


@dataclass(frozen=True)
class CloudRunRates:
    vcpu_second: float
    gib_second: float
    request: float
    free_vcpu_seconds: float = 0.0
    free_gib_seconds: float = 0.0
    free_requests: float = 0.0


@dataclass(frozen=True)
class CloudRunPrices:
    request_based: CloudRunRates
    instance_based: CloudRunRates
    idle_min_instance_vcpu_second: float  # request-based billing: a warm min instance with no request
    idle_min_instance_gib_second: float
    billing_granularity_ms: int = 100


@dataclass(frozen=True)
class PriceTable:
    """One dated price table. `lambda_request` is the price of one request."""

    date: str
    origin: str  # the file the table came from
    region: str
    currency: str
    lambda_request: float
    lambda_arch: Mapping[str, LambdaArchPrices]
    lambda_free_requests: float
    lambda_free_gb_seconds: float
    ephemeral_free_mb: int
    ephemeral_max_mb: int
    ephemeral_gb_second: float
    provisioned_rounding_s: int
    cloud_run: CloudRunPrices
    sources: Mapping[str, str] = field(default_factory=dict)

    @property
    def source(self) -> str:
        """Where the Lambda prices were taken from (URL list), for reports."""
        return self.sources.get("lambda", self.origin)

    def _arch(self, arch: str) -> LambdaArchPrices:
        try:
            return self.lambda_arch[arch]
        except KeyError:
            known = ", ".join(sorted(self.lambda_arch))
            raise UsageError(f"unknown architecture {arch!r}", f"use one of: {known}") from None

    def lambda_gb_second(self, arch: str = "x86_64") -> float:
        """First-tier on-demand duration price per GB-second."""
        return self._arch(arch).duration_tiers[0].gb_second

    def lambda_tiers(self, arch: str = "x86_64") -> tuple[DurationTier, ...]:
        return self._arch(arch).duration_tiers

    def provisioned_gb_second(self, arch: str = "x86_64") -> float:
        return self._arch(arch).provisioned_gb_second

    def provisioned_duration_gb_second(self, arch: str = "x86_64") -> float:
        return self._arch(arch).provisioned_duration_gb_second


# ---------------------------------------------------------------------------------------------- loading


def load_prices(path: str | Path | None = None) -> PriceTable:
    """The bundled dated table, or a user's JSON of the same shape (errors name the file and the key)."""
    if path is None:
        ref = resources.files("coldlab").joinpath("data").joinpath(BUNDLED_PRICES)
        text = ref.read_text(encoding="utf-8")
        origin = f"coldlab/data/{BUNDLED_PRICES}"
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(
                f"cannot read price file {path}: {exc.strerror}", "pass a readable JSON file"
            ) from None
        origin = str(path)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"{origin}:{exc.lineno}:{exc.colno}: price file is not JSON ({exc.msg})",
            "start from the bundled coldlab/data/prices-*.json",
        ) from None
    return _parse(doc, origin)


def _get(doc: Any, key: str, origin: str, where: str) -> Any:
    if not isinstance(doc, dict) or key not in doc:
        raise UsageError(f"{origin}: missing key {where}{key}", "compare with the bundled price file")
    return doc[key]


def _num(doc: Any, key: str, origin: str, where: str, default: float | None = None) -> float:
    if default is not None and (not isinstance(doc, dict) or key not in doc):
        return default
    value = _get(doc, key, origin, where)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise UsageError(f"{origin}: {where}{key} must be a non-negative number, got {value!r}")
    return float(value)


def _parse(doc: Any, origin: str) -> PriceTable:
    lam = _get(doc, "lambda", origin, "")
    arches: dict[str, LambdaArchPrices] = {}
    for arch, entry in _get(lam, "architectures", origin, "lambda.").items():
        where = f"lambda.architectures.{arch}."
        tiers_doc = _get(entry, "duration_tiers", origin, where)
        if not isinstance(tiers_doc, list) or not tiers_doc:
            raise UsageError(f"{origin}: {where}duration_tiers must be a non-empty list")
        tiers = []
        for i, tier in enumerate(tiers_doc):
            bound = _get(tier, "up_to_gb_seconds", origin, f"{where}duration_tiers[{i}].")
            tiers.append(
                DurationTier(
                    None if bound is None else float(bound),
                    _num(tier, "gb_second", origin, f"{where}duration_tiers[{i}]."),
                )
            )
        if tiers[-1].up_to_gb_seconds is not None:
            raise UsageError(f"{origin}: the last tier of {where}duration_tiers needs up_to_gb_seconds null")
        arches[arch] = LambdaArchPrices(
            tuple(tiers),
            _num(entry, "provisioned_gb_second", origin, where),
            _num(entry, "provisioned_duration_gb_second", origin, where),
        )
    free = lam.get("free_tier", {}) if isinstance(lam, dict) else {}
    eph = lam.get("ephemeral_storage", {}) if isinstance(lam, dict) else {}
    run = _get(doc, "cloud_run", origin, "")
    req = _get(run, "request_based", origin, "cloud_run.")
    inst = _get(run, "instance_based", origin, "cloud_run.")
    return PriceTable(
        date=str(_get(doc, "date", origin, "")),
        origin=origin,
        region=str(doc.get("region", "")),
        currency=str(doc.get("currency", "USD")),
        lambda_request=_num(lam, "request", origin, "lambda."),
        lambda_arch=arches,
        lambda_free_requests=_num(free, "requests", origin, "lambda.free_tier.", 0.0),
        lambda_free_gb_seconds=_num(free, "gb_seconds", origin, "lambda.free_tier.", 0.0),
        ephemeral_free_mb=int(_num(eph, "free_mb", origin, "lambda.ephemeral_storage.", 512.0)),
        ephemeral_max_mb=int(_num(eph, "max_mb", origin, "lambda.ephemeral_storage.", 10240.0)),
        ephemeral_gb_second=_num(eph, "gb_second", origin, "lambda.ephemeral_storage.", 0.0),
        provisioned_rounding_s=int(_num(lam, "provisioned_concurrency_rounding_s", origin, "lambda.", 300.0)),
        cloud_run=CloudRunPrices(
            request_based=_rates(req, origin, "cloud_run.request_based."),
            instance_based=_rates(inst, origin, "cloud_run.instance_based."),
            idle_min_instance_vcpu_second=_num(req, "idle_min_instance_vcpu_second", origin, "cloud_run."),
            idle_min_instance_gib_second=_num(req, "idle_min_instance_gib_second", origin, "cloud_run."),
            billing_granularity_ms=int(_num(run, "billing_granularity_ms", origin, "cloud_run.", 100.0)),
        ),
        sources={str(k): str(v) for k, v in doc.get("sources", {}).items()},
    )


def _rates(doc: Any, origin: str, where: str) -> CloudRunRates:
    free = doc.get("free_tier", {}) if isinstance(doc, dict) else {}
    return CloudRunRates(
        vcpu_second=_num(doc, "vcpu_second", origin, where),
        gib_second=_num(doc, "gib_second", origin, where),
        request=_num(doc, "request", origin, where, 0.0),
        free_vcpu_seconds=_num(free, "vcpu_seconds", origin, where + "free_tier.", 0.0),
        free_gib_seconds=_num(free, "gib_seconds", origin, where + "free_tier.", 0.0),
        free_requests=_num(free, "requests", origin, where + "free_tier.", 0.0),
    )


# ---------------------------------------------------------------------------------------------- Lambda


def lambda_billed_ms(duration_ms: float) -> int:
    """Lambda rounds duration up to the next whole millisecond (at least 1 ms)."""
    if duration_ms < 0:
        raise UsageError(f"duration must be >= 0 ms, got {duration_ms}")
    return max(1, math.ceil(duration_ms - 1e-9))  # 1e-9 absorbs float noise such as 12.000000000001


def gb(memory_mb: float) -> float:
    return memory_mb / MB_PER_GB


def lambda_invocation_cost(
    prices: PriceTable,
    *,
    memory_mb: float,
    billed_duration_ms: float,
    arch: str = "x86_64",
    init_billed_ms: float = 0,
    ephemeral_mb: float = 512,
    provisioned: bool = False,
) -> float:
    """Request fee + duration (1 ms billing, + billed INIT) at the first tier (+ ephemeral storage above the
    free 512 MB). `provisioned=True` prices the duration at the provisioned-concurrency duration rate."""
    billed_ms = lambda_billed_ms(billed_duration_ms)
    if init_billed_ms:
        billed_ms += lambda_billed_ms(init_billed_ms)
    rate = prices.provisioned_duration_gb_second(arch) if provisioned else prices.lambda_gb_second(arch)
    seconds = billed_ms / 1000.0
    extra_storage = max(0.0, ephemeral_mb - prices.ephemeral_free_mb)
    return (
        prices.lambda_request
        + gb(memory_mb) * seconds * rate
        + gb(extra_storage) * seconds * prices.ephemeral_gb_second
    )


def lambda_tiered_duration_cost(
    prices: PriceTable, gb_seconds: float, arch: str = "x86_64", already_used_gb_seconds: float = 0.0
) -> float:
    """Cost of `gb_seconds` of on-demand duration in one month, walking the volume tiers from
    `already_used_gb_seconds` (tiers add up per architecture, region and account)."""
    cost, start, end = 0.0, already_used_gb_seconds, already_used_gb_seconds + gb_seconds
    lower = 0.0
    for tier in prices.lambda_tiers(arch):
        upper = math.inf if tier.up_to_gb_seconds is None else tier.up_to_gb_seconds
        overlap = min(end, upper) - max(start, lower)
        if overlap > 0:
            cost += overlap * tier.gb_second
        lower = upper
    return cost


@dataclass(frozen=True)
class CostBreakdown:
    """Dollars by component. Every simulator and planner result carries one."""

    requests: float = 0.0
    duration: float = 0.0
    init: float = 0.0
    provisioned: float = 0.0
    idle: float = 0.0  # Cloud Run idle min instances
    storage: float = 0.0

    @property
    def total(self) -> float:
        return self.requests + self.duration + self.init + self.provisioned + self.idle + self.storage

    def as_dict(self) -> dict[str, float]:
        return {
            "requests": self.requests,
            "duration": self.duration,
            "init": self.init,
            "provisioned": self.provisioned,
            "idle": self.idle,
            "storage": self.storage,
            "total": self.total,
        }


def lambda_cost(
    prices: PriceTable,
    *,
    requests: float,
    duration_gb_seconds: float,
    init_gb_seconds: float = 0.0,
    provisioned_duration_gb_seconds: float = 0.0,
    provisioned_gb_seconds: float = 0.0,
    arch: str = "x86_64",
    tiered: bool = False,
    free_tier: bool = False,
) -> CostBreakdown:
    """Aggregate Lambda bill from already-rounded GB-second totals.

    On-demand duration and billed INIT share the on-demand rate; `tiered=True` walks the monthly tiers
    (duration first, then INIT). The free tier (off by default) is subtracted from on-demand requests and
    GB-s; AWS does not apply it to functions with provisioned concurrency."""
    billable_requests, od, init = requests, duration_gb_seconds, init_gb_seconds
    if free_tier and provisioned_gb_seconds == 0:
        billable_requests = max(0.0, requests - prices.lambda_free_requests)
        free_left = prices.lambda_free_gb_seconds
        od_free = min(od, free_left)
        od, free_left = od - od_free, free_left - od_free
        init -= min(init, free_left)
    if tiered:
        duration = lambda_tiered_duration_cost(prices, od, arch)
        init_cost = lambda_tiered_duration_cost(prices, init, arch, already_used_gb_seconds=od)
    else:
        duration = od * prices.lambda_gb_second(arch)
        init_cost = init * prices.lambda_gb_second(arch)
    duration += provisioned_duration_gb_seconds * prices.provisioned_duration_gb_second(arch)
    return CostBreakdown(
        requests=billable_requests * prices.lambda_request,
        duration=duration,
        init=init_cost,
        provisioned=provisioned_gb_seconds * prices.provisioned_gb_second(arch),
    )


def provisioned_concurrency_cost(
    prices: PriceTable, *, memory_mb: float, concurrency: int, seconds: float, arch: str = "x86_64"
) -> float:
    """The standing charge for `concurrency` provisioned environments enabled for `seconds`
    (rounded up to the table's 5 minutes), before any invocation is billed."""
    step = prices.provisioned_rounding_s
    billed = math.ceil(seconds / step - 1e-9) * step if step else seconds
    return concurrency * gb(memory_mb) * billed * prices.provisioned_gb_second(arch)


def pc_break_even_utilisation(prices: PriceTable, arch: str = "x86_64") -> float:
    """Utilisation above which a provisioned environment's duration is cheaper than on-demand:
    pc / (on_demand - pc_duration). Independent of memory; ~0.60 at list prices."""
    saving = prices.lambda_gb_second(arch) - prices.provisioned_duration_gb_second(arch)
    if saving <= 0:
        return math.inf
    return prices.provisioned_gb_second(arch) / saving


# ---------------------------------------------------------------------------------------------- Cloud Run


def cloud_run_billed_s(duration_s: float, granularity_ms: int = 100) -> float:
    """Cloud Run rounds billable time up to the next 100 ms."""
    if duration_s < 0:
        raise UsageError(f"duration must be >= 0 s, got {duration_s}")
    steps = math.ceil(duration_s * 1000.0 / granularity_ms - 1e-9)
    return steps * granularity_ms / 1000.0


def cloud_run_cost(
    prices: PriceTable,
    *,
    vcpu: float,
    memory_gib: float,
    requests: float,
    active_instance_seconds: float,
    idle_min_instance_seconds: float = 0.0,
    billing: str = "request",
    free_tier: bool = False,
) -> CostBreakdown:
    """Cloud Run bill. `billing="request"`: active_instance_seconds is time with >= 1 request in flight
    (incl. startup), already rounded with `cloud_run_billed_s`; idle min instances pay the idle rate.
    `billing="instance"`: active_instance_seconds is the whole instance lifetime (idle time included) and
    there is no request fee."""
    run = prices.cloud_run
    if billing == "request":
        rates = run.request_based
    elif billing == "instance":
        rates = run.instance_based
    else:
        raise UsageError(f"unknown Cloud Run billing {billing!r}", "use 'request' or 'instance'")
    vcpu_s = vcpu * active_instance_seconds
    gib_s = memory_gib * active_instance_seconds
    reqs = requests
    if free_tier:
        vcpu_s = max(0.0, vcpu_s - rates.free_vcpu_seconds)
        gib_s = max(0.0, gib_s - rates.free_gib_seconds)
        reqs = max(0.0, reqs - rates.free_requests)
    idle = 0.0
    if billing == "request":
        idle = idle_min_instance_seconds * (
            vcpu * run.idle_min_instance_vcpu_second + memory_gib * run.idle_min_instance_gib_second
        )
    return CostBreakdown(
        requests=reqs * rates.request,
        duration=vcpu_s * rates.vcpu_second + gib_s * rates.gib_second,
        idle=idle,
    )
