"""Time the synthetic-data generator (target: under 2 minutes here) and report datasets/ size.

    .venv/bin/python bench/data_build.py
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

from policylab.data.publish import build_datasets


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        build_datasets(out=Path(tmp))
        seconds = time.perf_counter() - started
        size = sum(p.stat().st_size for p in Path(tmp).iterdir())
    print(f"generator: {seconds:.1f} s (target < 120 s); datasets: {size / 1e6:.1f} MB (target < 40 MB)")


if __name__ == "__main__":
    main()
