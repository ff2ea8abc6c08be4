"""Helpers shared by the benchmarks: timing and the ratio table."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "data" / "crema-d"
CREMA_D_CLIPS = 7442


def best_of(fn: Callable[[], object], repeat: int = 3) -> float:
    """Best wall time of ``repeat`` calls, in seconds (the least disturbed run)."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def print_table(title: str, rows: list[dict]) -> None:
    """rows: {metric, value, unit, baseline, ratio, target}; printed aligned."""
    print(f"\n{title}")
    width = max([44, *(len(r["metric"]) for r in rows)])
    head = f"{'metric':<{width}} {'value':>12} {'unit':<10} {'baseline':>12} {'ratio':>8}  target"
    print(head)
    print("-" * len(head))
    for r in rows:
        base = "" if r.get("baseline") is None else f"{r['baseline']:12.3f}"
        ratio = "" if r.get("ratio") is None else f"{r['ratio']:8.2f}"
        print(f"{r['metric']:<{width}} {r['value']:12.3f} {r['unit']:<10} {base:>12} {ratio:>8}  {r.get('target', '')}")


def save(name: str, rows: list[dict]) -> Path:
    out = ROOT / "benchmarks" / "results" / f"{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=1) + "\n")
    return out
