"""The modelled Init Duration of a hello-world Go function against the published real-Lambda figure.

Builds examples/hello-aws-lambda-go as maxday/lambda-perf builds its Go function (-ldflags="-s -w", -tags
lambda.norpc), cold-starts it N times per memory size in coldlab's execution environment (cold page cache,
the init CPU allowance in force), and prints, per architecture and memory size that lambda-perf lists:
measured exec-to-/next here (p50), the modelled Init Duration (that + Lambda's own work inside init, the
calibrated part of `coldlab.anatomy.platform_model`), the published median, their ratio and whether it is
within +-30%. The same at 128 MB without the allowance (COLDLAB_INIT_CPU=memory) shows what it fixes.
A printed check, never a pass/fail on timing: arm64 rows reuse this machine's (x86_64) measurement.

Usage: .venv/bin/python benchmarks/anatomy_model.py [--runs 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
from pathlib import Path

from coldlab import gotool
from coldlab.anatomy import platform_model as pm
from coldlab.anatomy.runner import RunSpec, measure
from coldlab.anatomy.timeline import percentile

REPO = Path(__file__).resolve().parent.parent
TOLERANCE = 0.30


def init_p50(code: Path, memory_mb: int, runs: int, init_cpu: str | None = None) -> tuple[float, float]:
    spec = RunSpec(code, memory_mb, runs=runs, warm=1, init_cpu=init_cpu, trace_network=False)
    measured = asyncio.run(measure(spec, None))
    inits = [r.init_ms for r in measured.runs if r.init_ms is not None]
    return percentile(inits, 50), percentile(inits, 90)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="coldlab-bench-anatomy-") as tmp:
        code = Path(tmp) / "hello"
        gotool.build(
            gotool.GoBuild(package_dir=REPO / "examples" / "hello-aws-lambda-go"), code / "bootstrap"
        )
        sizes = sorted({m for table in pm.PUBLISHED_INIT_MS.values() for m in table})
        print(f"coldlab anatomy model check: hello-aws-lambda-go, {args.runs} cold starts per size, load "
              f"{os.getloadavg()[0]:.2f}")  # fmt: skip
        print(f"published: {pm.PUBLISHED_SOURCE}")
        measured = {m: init_p50(code, m, args.runs) for m in sizes}
        print(
            f"{'arch':7} {'MB':>5} {'here p50':>9} {'p90':>7} {'modelled':>9} {'published':>10} "
            f"{'ratio':>6}  ±30%"
        )
        inside = 0
        total = 0
        for arch, table in pm.PUBLISHED_INIT_MS.items():
            overhead = pm.lambda_init_overhead(arch).p50_ms
            for memory_mb, published in sorted(table.items()):
                here, here90 = measured[memory_mb]
                modelled = here + overhead
                ratio = modelled / published
                ok = abs(ratio - 1) <= TOLERANCE
                inside += ok
                total += 1
                print(f"{arch:7} {memory_mb:5d} {here:9.1f} {here90:7.1f} {modelled:9.1f} {published:10.2f} "
                      f"{ratio:6.2f}  {'yes' if ok else 'NO'}")  # fmt: skip
        print(
            f"within ±30%: {inside} of {total} "
            f"(Lambda's own work modelled as {pm.LAMBDA_INIT_OVERHEAD_MS} ms)"
        )
        without, _ = init_p50(code, 128, args.runs, init_cpu="memory")
        modelled = without + pm.lambda_init_overhead("x86_64").p50_ms
        published = pm.PUBLISHED_INIT_MS["x86_64"][128]
        print(f"without the init CPU allowance (COLDLAB_INIT_CPU=memory) at 128 MB: here p50 {without:.1f} "
              f"ms, modelled {modelled:.1f} ms, ratio {modelled / published:.2f} to the published "
              f"{published} ms")  # fmt: skip


if __name__ == "__main__":
    main()
