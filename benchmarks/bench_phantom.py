"""How fast the phantom generator draws chest X-rays: images per second at 224 px.

Generates 1,000 images of 224 x 224 three times and prints the median rate.

Example:
    $ .venv/bin/python benchmarks/bench_phantom.py
    phantom 1000 x 224 px: median 4.1 s -> 245 images/s (runs: 4.3, 4.1, 4.0 s; 2 CPUs)
"""
from __future__ import annotations

import os
import statistics
import time

from daylib.data.phantom import make_phantom

N_IMAGES = 1000
SIZE = 224
REPEATS = 3


def time_once(seed: int) -> float:
    """Seconds to draw ``N_IMAGES`` phantoms of ``SIZE`` pixels.

    Example:
        >>> time_once(0)
        4.1
    """
    start = time.perf_counter()
    make_phantom(N_IMAGES, size=SIZE, seed=seed)
    return time.perf_counter() - start


def main() -> None:
    """Run the benchmark and print the median rate."""
    make_phantom(8, size=SIZE)  # warm-up: imports, OpenCV initialisation
    runs = [time_once(seed) for seed in range(REPEATS)]
    median = statistics.median(runs)
    listed = ", ".join(f"{r:.1f}" for r in runs)
    print(f"phantom {N_IMAGES} x {SIZE} px: median {median:.1f} s -> {N_IMAGES / median:.0f} images/s "
          f"(runs: {listed} s; {os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
