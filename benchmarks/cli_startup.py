"""How long `coldlab --help` and `coldlab COMMAND --help` take, beside `python -c pass` run alongside.
Prints figures; never fails on time. Target: <= 150 ms for `coldlab --help` and the light commands' --help.

Each figure is the median (and the slowest) of N runs of a fresh interpreter, run in turn with the others
(round-robin), so a busy machine slows all of them alike. "over python" is what coldlab itself adds.

Usage: .venv/bin/python benchmarks/cli_startup.py [--runs 20] [COMMAND ...]   (default: invoke simulate plan
doctor inspect demo tune serve)
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

DEFAULT_COMMANDS = ("invoke", "simulate", "plan", "doctor", "inspect", "demo", "tune", "serve")


def once(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("commands", nargs="*", default=DEFAULT_COMMANDS)
    args = parser.parse_args()
    python = sys.executable
    cases = {"python -c pass": [python, "-c", "pass"], "coldlab --help": [python, "-m", "coldlab", "--help"]}
    for command in args.commands:
        cases[f"coldlab {command} --help"] = [python, "-m", "coldlab", command, "--help"]
    for argv in cases.values():  # warm the page cache and .pyc files first
        once(argv)
    samples: dict[str, list[float]] = {label: [] for label in cases}
    for _ in range(args.runs):
        for label, argv in cases.items():
            samples[label].append(once(argv))
    baseline = statistics.median(samples["python -c pass"])
    print(f"{'':28} {'median':>9} {'slowest':>9} {'over python':>12}   ({args.runs} runs each)")
    for label, times in samples.items():
        median = statistics.median(times)
        print(f"{label:28} {median:7.1f} ms {max(times):7.1f} ms {median - baseline:+9.1f} ms")


if __name__ == "__main__":
    main()
