#!/usr/bin/env python3
"""Summarise criterion results for BENCHMARKS.md.

Usage: python3 benches/summary.py [CRITERION_DIR]
(default: $CARGO_TARGET_DIR/criterion, else target/criterion)

For every benchmark it prints the median, min and max over criterion's
samples of the time per iteration (each sample's total time divided by its
iteration count, from new/sample.json), the number of samples and
iterations, and the throughput when one was declared. Then the ratios the
issue asks for, computed from the same files (so from the same run when the
benches were run together).
"""

import json
import os
import statistics
import sys


def fmt(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def load(root):
    results = {}
    for dirpath, _dirs, files in os.walk(root):
        if os.path.basename(dirpath) != "new" or "sample.json" not in files:
            continue
        with open(os.path.join(dirpath, "benchmark.json")) as f:
            bench = json.load(f)
        with open(os.path.join(dirpath, "sample.json")) as f:
            sample = json.load(f)
        per_iter = [t / i for t, i in zip(sample["times"], sample["iters"])]
        results[bench["full_id"]] = {
            "median": statistics.median(per_iter),
            "min": min(per_iter),
            "max": max(per_iter),
            "samples": len(per_iter),
            "iters": int(sum(sample["iters"])),
            "throughput": bench.get("throughput"),
        }
    return results


def main():
    default = os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "criterion")
    root = sys.argv[1] if len(sys.argv) > 1 else default
    results = load(root)
    print("| benchmark | median | min - max | samples (iterations) | throughput (median) |")
    print("|---|---|---|---|---|")
    for name in sorted(results):
        r = results[name]
        thr = ""
        if r["throughput"] and "Elements" in r["throughput"]:
            per_s = r["throughput"]["Elements"] / (r["median"] / 1e9)
            thr = f"{per_s:,.0f} records/s"
        print(f"| `{name}` | {fmt(r['median'])} | {fmt(r['min'])} - {fmt(r['max'])} | {r['samples']} ({r['iters']}) | {thr} |")

    def ratio(a, b):
        if a in results and b in results:
            return results[a]["median"] / results[b]["median"]
        return None

    print()
    for variant in ("incremental", "incremental_cold"):
        r = ratio(f"catch_up/{variant}/1M", f"catch_up/{variant}/1k")
        if r is not None:
            print(f"- catch-up ({variant}) at 1M / at 1k: {r:.2f}x")
    for size in ("1k", "10k", "100k", "1M"):
        r = ratio(f"catch_up/full/{size}", f"catch_up/incremental/{size}")
        c = ratio(f"catch_up/full/{size}", f"catch_up/incremental_cold/{size}")
        if r is not None:
            cold = f", / incremental_cold: {c:,.0f}x" if c is not None else ""
            print(f"- full replay / incremental catch-up at {size}: {r:,.0f}x{cold}")
    r = ratio("pipeline/poll_decode_apply", "pipeline/raw_poll")
    if r is not None:
        print(f"- pipeline: poll+decode+apply / raw poll: {r:.3f} (decode+apply add {100 * (r - 1):.1f}%)")
        same = ratio("pipeline/poll_decode_apply", "pipeline/raw_poll_after_pipeline")
        if same is not None:
            print(f"- pipeline: poll+decode+apply / raw poll after a pipeline iteration: {same:.3f} (+{100 * (same - 1):.1f}%)")
        parts = [results.get(k, {}).get("median") for k in ("pipeline/decode", "pipeline/apply", "pipeline/raw_poll")]
        if all(parts):
            print(f"- pipeline: (decode + apply, measured apart) / raw poll: {100 * (parts[0] + parts[1]) / parts[2]:.1f}%")


if __name__ == "__main__":
    main()
