"""The parts of a Lambda cold start that only Lambda has, modelled from published figures (never measured).

Three models, each with its source:
- placement and sandbox provisioning (outside Init Duration): the end-to-end Go cold start of Shilkov's study,
  less Init Duration and download (reference pricing-and-tuning §3.2, §3.1);
- code download (outside Init Duration): the seed's size bands (< 5 MiB ~20 ms, 5-20 MiB 30-80 ms, 20-50 MiB
  80-200 ms, > 50 MiB 200 ms+; the same bands `coldlab inspect` reports) read as one curve of the zipped size;
- Lambda's own work inside Init Duration (its runtime API, the microVM's first exec and page-in from remote
  storage, logging): calibrated so that a hello-world Go function's modelled Init Duration matches
  maxday/lambda-perf's medians (lambda-contract §12.2); `benchmarks/anatomy_model.py` prints the check.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

MiB = 1 << 20


@dataclass(frozen=True)
class Modelled:
    p50_ms: float
    p90_ms: float
    source: str


# --- placement and provisioning ----------------------------------------------------------------------------
# Shilkov (2021, through API Gateway, already adjusted by the warm response time): Go cold start median
# 0.31 s; 67% range 0.25-0.41 s, 95% range 0.19-0.66 s. Less lambda-perf's ~50 ms Go Init Duration and ~20 ms
# download of a small zip: ~240 ms at the median; the p90 lies between the 67% and 95% upper ends.
PROVISIONING = Modelled(
    240.0,
    420.0,
    "Shilkov's Go cold start through API Gateway (median 0.31 s, 67% to 0.41 s, 95% to 0.66 s; reference "
    "pricing-and-tuning §3.2) less lambda-perf's ~50 ms Init Duration and ~20 ms download; includes the "
    "front end's own cold path, so an upper band",
)

# --- code download -----------------------------------------------------------------------------------------
# The seed's bands as a curve through their edges: (zipped MiB, ms).
_DOWNLOAD_CURVE = ((0.0, 15.0), (5.0, 30.0), (20.0, 80.0), (50.0, 200.0))
_DOWNLOAD_SLOPE_OVER = 4.0  # ms per MiB beyond 50 MiB (the 20-50 MiB band's slope): ~250 MiB/s
DOWNLOAD_SPREAD = (
    1.5  # p90 = p50 x 1.5: a band (30-80 ms) is wider than one size's spread; a modelling choice
)
DOWNLOAD_SOURCE = (
    "the seed's size bands (< 5 MiB ~20 ms, 5-20 MiB 30-80 ms, 20-50 MiB 80-200 ms, > 50 MiB 200 ms+) as one "
    "curve of the zipped size: ~15 ms to start, then ~3.3-4 ms per MiB (about 250-300 MiB/s); the public "
    "package-size series (Tanasa's Node.js gists, Shilkov's JS data: reference pricing-and-tuning §3.4) rise "
    "10x faster per MiB because they include the runtime loading the code, so they bound it from above"
)


def download_ms(zipped_bytes: int) -> float:
    """Modelled p50 download time of a deployment package of `zipped_bytes`."""
    mib = max(zipped_bytes, 0) / MiB
    for (x0, y0), (x1, y1) in itertools.pairwise(_DOWNLOAD_CURVE):
        if mib <= x1:
            return y0 + (y1 - y0) * (mib - x0) / (x1 - x0)
    last_x, last_y = _DOWNLOAD_CURVE[-1]
    return last_y + (mib - last_x) * _DOWNLOAD_SLOPE_OVER


def download(zipped_bytes: int) -> Modelled:
    p50 = download_ms(zipped_bytes)
    return Modelled(p50, p50 * DOWNLOAD_SPREAD, DOWNLOAD_SOURCE)


def download_saving_ms(zipped_bytes: int, saved_zipped_bytes: int) -> float:
    """Modelled download milliseconds saved per cold start by a package `saved_zipped_bytes` smaller."""
    return max(download_ms(zipped_bytes) - download_ms(zipped_bytes - saved_zipped_bytes), 0.0)


# --- Lambda's own work inside Init Duration -----------------------------------------------------------------
# Published hello-world Go on provided.al2023 (zip, -ldflags="-s -w", -tags lambda.norpc): Init Duration p50.
PUBLISHED_INIT_MS: dict[str, dict[int, float]] = {
    "x86_64": {128: 49.40, 512: 49.58, 1024: 50.56},
    "arm64": {128: 42.45, 1024: 44.09},
}
PUBLISHED_SOURCE = "maxday/lambda-perf data/last.json, 2026-08-22 (reference lambda-contract §12.2)"
# The same function measured in coldlab (examples/hello-aws-lambda-go, built as lambda-perf builds it, with a
# cold page cache and the init CPU allowance) takes ~21 ms from exec to the first /next on this project's
# 2-core machines (benchmarks/anatomy_model.py, 8-10 cold starts per size): Lambda spends the rest.
LAMBDA_INIT_OVERHEAD_MS = {"x86_64": 29.0, "arm64": 22.0}
LAMBDA_INIT_SPREAD = 1.08  # p90/p50 of lambda-perf's ten daily samples (x86_64: 42-54 ms around ~50)
OVERHEAD_SOURCE = (
    "calibrated: lambda-perf's hello-world Go Init Duration medians (49.4-50.6 ms x86_64, 42.5-44.1 ms "
    "arm64, flat across memory) less coldlab's measured exec-to-/next of the same function (~21 ms, cold "
    "page cache); benchmarks/anatomy_model.py prints the check"
)


def lambda_init_overhead(architecture: str) -> Modelled:
    p50 = LAMBDA_INIT_OVERHEAD_MS.get(architecture, LAMBDA_INIT_OVERHEAD_MS["x86_64"])
    return Modelled(p50, p50 * LAMBDA_INIT_SPREAD, OVERHEAD_SOURCE)
