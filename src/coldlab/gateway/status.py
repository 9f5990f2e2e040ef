"""`GET /_coldlab/status`: functions, versions and every environment with its state, as JSON.

Environment states: initializing (a cold start or a provisioned init under way), busy, idle-frozen, new,
closed; `kind` says provisioned or on-demand. Counts per function: invokes, cold starts, throttles (with
their reasons), spillovers (provisioned all busy), reclaims; each function's last REPORT lines; `emf`: the
metrics its EMF lines carried (events, per metric count/sum/min/max) and its invalid EMF lines (counted, the
last one shown). `timeline`: the pool sampled every ~0.5 s (platform/timeline.py); `?since=N` adds the
samples after sequence number N.

Asynchronous invokes: each function's `async` is its queue (queued, running, held_for_destination) and its
counters since the state directory was made (coldlab.store.queue.COUNTERS: accepted, invokes, succeeded,
retries, throttled, system_errors, to_destination, on_success, dropped, expired, duplicates); the top-level
`async` sums them and lists `destination_problems` (destinations that cannot be written: their records stay
in the queue). `records`: invocation records written to the state database, pending, failed.
"""

from __future__ import annotations

from typing import Any

from coldlab.platform.pool import Slot
from coldlab.platform.registry import Function
from coldlab.platform.service import LambdaService

SCHEMA = "coldlab.serve.status/1"


def _environment(slot: Slot) -> dict[str, Any]:
    return {
        "id": slot.env.id,
        "version": slot.version.version,
        "generation": slot.version.generation,
        "state": slot.describe(),
        "kind": "provisioned" if slot.provisioned_for is not None else "on-demand",
        "qualifier": slot.provisioned_for,
        "invokes": slot.invokes,
        "pid": slot.env.pid,  # the bootstrap's, while it runs
        "draining": slot.retired,
        "keep_alive_s": round(slot.keep_alive_s, 1)
        if slot.provisioned_for is None and slot.keep_alive_s
        else None,
    }


def _function(service: LambdaService, function: Function) -> dict[str, Any]:
    counts = service.pool.count(function.name)
    latest = function.latest
    return {
        "name": function.name,
        "arn": function.arn(),
        "state": function.state,
        "last_update_status": function.last_update,
        "memory_mb": latest.config.memory_mb,
        "timeout_s": latest.config.timeout_s,
        "generation": latest.generation,
        "reserved_concurrency": function.reserved,
        "concurrency": service.pool.concurrency(function.name),
        "versions": ["$LATEST", *function.versions],
        "aliases": {name: alias.function_version for name, alias in function.aliases.items()},
        "provisioned": [
            {
                "qualifier": config.qualifier,
                "version": config.version,
                "requested": config.requested,
                "allocated": config.allocated,
                "available": config.available,
                "status": config.status,
                "status_reason": config.status_reason,
            }
            for config in function.provisioned.values()
        ],
        "counts": {
            "invokes": counts.invokes,
            "cold_starts": counts.cold_starts,
            "throttles": counts.throttles,
            "throttle_reasons": dict(counts.by_reason),
            "spillovers": counts.spillovers,
            "reclaims": counts.reclaims,
        },
        "environments": [_environment(slot) for slot in service.pool.slots(function.name)],
        "reports": service.timeline.reports(function.name),  # the last REPORT lines, oldest first
        "emf": service.emf.describe(function.name),  # the function's own metrics, beside coldlab's counts
        "async": service.delivery.snapshot(function.name),
    }


_QUEUE_KEYS = ("queued", "running", "held_for_destination")


def _async(service: LambdaService) -> dict[str, Any]:
    delivery = service.delivery
    queue: dict[str, int] = dict.fromkeys(_QUEUE_KEYS, 0)
    counts: dict[str, int] = {}
    for name in sorted({*delivery.queue, *delivery.counts}):
        snapshot = delivery.snapshot(name)
        for key in _QUEUE_KEYS:
            queue[key] += snapshot[key]
        for key, value in snapshot["counts"].items():
            counts[key] = counts.get(key, 0) + value
    return {
        "state_dir": str(service.state.state_dir),
        "retry_delay_scale": delivery.scale,
        **queue,
        "duplicates": counts.get("duplicates", 0),
        "counts": counts,
        "destination_problems": list(delivery.problems.values()),
    }


def status(service: LambdaService, since: int | None = None) -> dict[str, Any]:
    """The document; with `since`, the timeline's samples after that sequence number too (0: all kept)."""
    pool = service.pool
    return {
        "schema": SCHEMA,
        "account": {
            "concurrency_limit": pool.account_limit,
            "unreserved": pool.account_limit - sum(f.reserved or 0 for f in service.registry),
            "keep_alive": pool.keep_alive.describe(),
            "event_invokes": service.event_invokes,
        },
        "functions": [_function(service, function) for function in service.registry],
        "timeline": service.timeline.describe(since),
        "async": _async(service),
        "records": {
            "database": str(service.state.path),
            "written": service.records.written,
            "pending": service.records.pending,
            "failed": service.records.failed,
            "last_error": service.records.last_error,
        },
    }
