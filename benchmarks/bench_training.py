"""Phase 1 on a CPU: cached features vs the plain frozen-base fit, same epochs, side by side.

Both paths train the same head of the bundled EfficientNet-Lite0 (ImageNet weights) on
phantom chest X-rays for the same number of epochs, early stopping off, and each is timed
as a whole ``train_head`` call (the cached path includes its one pass over the data).
Runs alternate between the two paths so a busy machine slows both alike; the medians are
compared. Goal: the cached path at least 4x faster at 5 epochs on a 2-core CPU.

Two data sizes by default: 200 images (lessons 01, 02 and 05 train on 200) and 620 (about
lesson 07's 500 + 120). The cached path pays a fixed cost (tracing the base once, tracing
the head's train step) and the plain path pays a full forward pass per image per epoch, so
the ratio grows with the data; the smaller size is the one to judge the goal by.

Run:
    .venv/bin/python benchmarks/bench_training.py [--size 160] [--n 200 620] [--epochs 5] [--repeats 3]
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import daylib  # noqa: F401  (selects the TF backend quietly)
import numpy as np

from daylib.data.phantom import make_phantom
from daylib.models import build_classifier
from daylib.training import train_head


def _timed_run(cached: bool, train, validation, size: int, epochs: int, batch_size: int) -> float:
    model = build_classifier("efficientnet_lite0", 2, input_shape=(size, size, 3), weights="imagenet")
    start = time.perf_counter()
    train_head(model, train, validation, epochs=epochs, cached=cached, patience=None,
               batch_size=batch_size, verbose=0)
    return time.perf_counter() - start


def _compare(n: int, args: argparse.Namespace) -> None:
    phantoms = make_phantom(n, size=args.size, seed=0)
    images = np.repeat(phantoms.images[..., None], 3, axis=-1)
    n_train = int(n * 0.8)
    train = (images[:n_train], phantoms.labels[:n_train])
    validation = (images[n_train:], phantoms.labels[n_train:])
    print(f"\n{n_train} train + {n - n_train} validation images")

    times: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(args.repeats):
        for cached in (True, False):
            times[cached].append(_timed_run(cached, train, validation, args.size, args.epochs, args.batch_size))

    images_seen = n_train * args.epochs
    for cached, label in ((False, "plain (frozen base in the model)"), (True, "cached features")):
        median = statistics.median(times[cached])
        runs = ", ".join(f"{t:.1f}" for t in times[cached])
        print(f"{label:34} {median:7.2f} s  {images_seen / median:8.1f} train images/s   (runs: {runs} s)")
    ratio = statistics.median(times[False]) / statistics.median(times[True])
    print(f"cached is {ratio:.1f}x faster than plain (goal: >= 4x at 5 epochs)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=160, help="image side in pixels")
    parser.add_argument("--n", type=int, nargs="+", default=[200, 620],
                        help="images in all, one comparison per value; 80%% train, 20%% validation")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    print(f"EfficientNet-Lite0 (ImageNet), {args.size} px phantoms, {args.epochs} epochs, batch {args.batch_size}, "
          f"{os.cpu_count()} CPU cores, medians of {args.repeats} runs")
    for n in args.n:
        _compare(n, args)


if __name__ == "__main__":
    main()
