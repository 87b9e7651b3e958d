"""Phase 1 on a CPU: the plain frozen-base fit vs cached features, cold and warm, same epochs, side by side.

All paths train the same head of the bundled EfficientNet-Lite0 (ImageNet weights) on
phantom chest X-rays for the same number of epochs, early stopping off, each timed as a
whole ``train_head`` call:

- plain: ``cached=False``, the full model with the frozen base inside, every epoch;
- cold: ``cached=True`` with an empty feature cache: one pass of the base over the data,
  the features stored on disk (:mod:`daylib.training.feature_cache`), then the head;
- warm: ``cached=True`` again with another learning rate (a new run, as when a learner
  changes a head setting and re-runs the cell): the features are read back, only the head
  trains, and the compiled head of the previous run is reused
  (:mod:`daylib.training.compiled_heads`), so Keras does not trace its step again;
- warm, new head: the same, with the kept heads forgotten first, as in the first run of a
  new kernel or after changing the head's shape: Keras traces the head's step anew.

Runs alternate between the paths so a busy machine slows them alike; the medians are
compared. Goals at 5 epochs on 160 training images at 224 px: cold >= 4x faster than plain,
warm >= 20x. The cache lives in a temporary folder, deleted at the end.

``--profile`` prints where the warm path spends its time (cProfile, cumulative, top 25).

Run:
    .venv/bin/python benchmarks/bench_training.py [--size 224] [--n 200] [--epochs 5] [--repeats 3] [--profile]
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import tempfile
import time
from pathlib import Path

import daylib  # noqa: F401  (selects the TF backend quietly)
import numpy as np

from daylib import config
from daylib.data.phantom import make_phantom
from daylib.models import build_classifier
from daylib.training import clear_feature_cache, train_head
from daylib.training.compiled_heads import forget_compiled_heads

PATHS = {"plain": "plain (frozen base in the model)", "cold": "cached, cold feature cache",
         "warm": "cached, warm feature cache", "retraced": "cached, warm cache, new head"}


def _run(path: str, train, validation, args: argparse.Namespace, learning_rate: float = 1e-3) -> float:
    model = build_classifier("efficientnet_lite0", 2, input_shape=(args.size, args.size, 3), weights="imagenet")
    if path == "cold":
        clear_feature_cache()
    if path == "retraced":
        forget_compiled_heads()
    start = time.perf_counter()
    train_head(model, train, validation, epochs=args.epochs, cached=path != "plain", learning_rate=learning_rate,
               patience=None, batch_size=args.batch_size, verbose=0)
    return time.perf_counter() - start


def _compare(n: int, args: argparse.Namespace) -> None:
    phantoms = make_phantom(n, size=args.size, seed=0)
    images = np.repeat(phantoms.images[..., None], 3, axis=-1)
    n_train = int(n * 0.8)
    train = (images[:n_train], phantoms.labels[:n_train])
    validation = (images[n_train:], phantoms.labels[n_train:])
    print(f"\n{n_train} train + {n - n_train} validation images")

    times: dict[str, list[float]] = {path: [] for path in PATHS}
    for repeat in range(args.repeats):
        for path in PATHS:  # cold leaves the cache filled for warm and retraced, which use another learning rate
            learning_rate = 2e-3 if path in ("warm", "retraced") else 1e-3
            times[path].append(_run(path, train, validation, args, learning_rate=learning_rate))

    images_seen = n_train * args.epochs
    medians = {path: statistics.median(runs) for path, runs in times.items()}
    for path, label in PATHS.items():
        runs = ", ".join(f"{t:.2f}" for t in times[path])
        print(f"{label:34} {medians[path]:7.2f} s  {images_seen / medians[path]:8.1f} train images/s   "
              f"(runs: {runs} s)")
    print(f"cold cache is {medians['plain'] / medians['cold']:.1f}x faster than plain (goal: >= 4x at 5 epochs)")
    print(f"warm cache is {medians['plain'] / medians['warm']:.1f}x faster than plain (goal: >= 20x at 5 epochs)")
    print(f"warm cache with a new head is {medians['plain'] / medians['retraced']:.1f}x faster than plain")
    for path in ("cold", "warm", "retraced"):  # each repeat's runs ran back to back: under a changing load they pair up
        pairs = [plain / other for plain, other in zip(times["plain"], times[path])]
        print(f"{path} vs plain, repeat by repeat: {', '.join(f'{r:.1f}x' for r in pairs)} "
              f"(median {statistics.median(pairs):.1f}x)")
    if args.profile:
        profile = cProfile.Profile()
        profile.enable()
        _run("warm", train, validation, args, learning_rate=3e-3)
        profile.disable()
        print("\nwhere the warm path spends its time (model building excluded):")
        pstats.Stats(profile).sort_stats("cumulative").print_stats(25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=224, help="image side in pixels")
    parser.add_argument("--n", type=int, nargs="+", default=[200],
                        help="images in all, one comparison per value; 80%% train, 20%% validation")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--profile", action="store_true", help="profile one more warm run")
    args = parser.parse_args()
    print(f"EfficientNet-Lite0 (ImageNet), {args.size} px phantoms, {args.epochs} epochs, batch {args.batch_size}, "
          f"{os.cpu_count()} CPU cores, medians of {args.repeats} runs")
    with tempfile.TemporaryDirectory(prefix="daylib-bench-") as folder:
        config.CACHE_DIR = Path(folder)
        for n in args.n:
            _compare(n, args)


if __name__ == "__main__":
    main()
