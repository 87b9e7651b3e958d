"""How fast is daylib's Grad-CAM? Ratios measured side by side in one run, on the bundled model.

Compares, on EfficientNet-Lite0 (ImageNet weights) at 224 px with a batch of 32:

1. daylib ``GradCAM`` against the floor: the bare compiled forward pass plus the
   gradient to the layer (goal: at most 1.15x).
2. daylib ``GradCAM`` against a per-image Grad-CAM written the way tutorials do it
   (a gradient model built per call, one image and one class per pass, eager), for
   32 images x 3 classes (goal: at least 10x faster).
3. daylib ``GradCAM`` with 3 classes per image against 1 class (goal: at most 1.6x).

Timings are medians of several runs; the machine is shared, so read the ratios.
Run: ``python benchmarks/bench_cam.py`` (about 1-2 minutes on a 2-core CPU).
"""
from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable

import daylib  # noqa: F401  (selects the TensorFlow backend quietly)
import cv2
import keras
import numpy as np
import tensorflow as tf

from daylib import config
from daylib.cam import GradCAM
from daylib.data.images import load_image
from daylib.models.efficientnet_lite import LAST_CONV_LAYER, efficientnet_lite0

CLASSES = (285, 281, 967)  # Egyptian cat, tabby, espresso


def interleaved_medians(variants: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Median wall time of each variant; the variants take turns in every round, so load drifts hit all alike."""
    for run in variants.values():
        run()
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, run in variants.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def _timed(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def sample_images(batch: int, size: int) -> np.ndarray:
    """``batch`` photos: the shipped cat and espresso, shifted and flipped."""
    photos = [load_image(config.IMAGES_DIR / name, size=size + 16) for name in ("chelsea.png", "coffee.png")]
    out = []
    for i in range(batch):
        photo = photos[i % 2]
        dy, dx = (i * 5) % 16, (i * 3) % 16
        crop = photo[dy:dy + size, dx:dx + size]
        out.append(crop[:, ::-1] if i % 4 >= 2 else crop)
    return np.stack(out).astype(np.float32)


def floor_function(model: keras.Model) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    """The least any Grad-CAM must do: one compiled forward pass and the gradient to the layer."""
    grad_model = keras.Model(model.inputs, [model.get_layer(LAST_CONV_LAYER).output, model.outputs[0]])

    @tf.function
    def forward_and_gradient(images, classes):
        with tf.GradientTape() as tape:
            features, outputs = grad_model(images, training=False)
            score = tf.reduce_sum(tf.gather(outputs, classes, batch_dims=1))
        return tape.gradient(score, features)

    return forward_and_gradient


def tutorial_grad_cam(image: np.ndarray, model: keras.Model, layer_name: str, class_index: int) -> np.ndarray:
    """Grad-CAM for one image and one class, as tutorials write it (gradient model built per call)."""
    grad_model = keras.Model(model.inputs, [model.get_layer(layer_name).output, model.output])
    with tf.GradientTape() as tape:
        features, predictions = grad_model([image[None]])
        class_score = predictions[:, class_index]
    grads = tape.gradient(class_score, features)
    pooled = tf.reduce_mean(grads, axis=(0, 1, 2))
    heatmap = tf.squeeze(features[0] @ pooled[..., None])
    heatmap = tf.maximum(heatmap, 0) / tf.reduce_max(heatmap)
    return cv2.resize(heatmap.numpy(), image.shape[1::-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=9, help="timed rounds of the fast variants (interleaved)")
    parser.add_argument("--tutorial-repeats", type=int, default=2, help="timed runs of the per-image tutorial loop (~40 s each)")
    args = parser.parse_args()

    model = efficientnet_lite0(weights="imagenet", input_shape=(args.size, args.size, 3))
    images = sample_images(args.batch, args.size)
    one = np.full((args.batch,), CLASSES[0], np.int32)
    three = np.tile(np.array(CLASSES, np.int32), (args.batch, 1))
    cam = GradCAM(model)
    floor = floor_function(model)
    images_tensor, one_tensor = tf.constant(images), tf.constant(one[:, None])

    def tutorial() -> None:
        for image in images:
            for class_index in CLASSES:
                tutorial_grad_cam(image, model, LAST_CONV_LAYER, class_index)

    timings = interleaved_medians(
        {
            "floor (forward + gradient)": lambda: floor(images_tensor, one_tensor),
            "daylib GradCAM, 1 class": lambda: cam(images, one),
            "daylib GradCAM, 3 classes": lambda: cam(images, three),
        },
        args.repeats,
    )
    tutorial_grad_cam(images[0], model, LAST_CONV_LAYER, CLASSES[0])
    timings["tutorial loop, 3 classes"] = statistics.median(_timed(tutorial) for _ in range(args.tutorial_repeats))
    print(f"EfficientNet-Lite0, {args.size} px, batch {args.batch}; medians of {args.repeats} interleaved rounds")
    print(f"(tutorial loop: median of {args.tutorial_repeats} runs)")
    for name, seconds in timings.items():
        print(f"  {name:<28} {seconds * 1000:9.1f} ms")
    ratios = [
        ("GradCAM / floor", timings["daylib GradCAM, 1 class"] / timings["floor (forward + gradient)"], "<= 1.15"),
        ("tutorial / GradCAM (3 classes)", timings["tutorial loop, 3 classes"] / timings["daylib GradCAM, 3 classes"], ">= 10"),
        ("3 classes / 1 class", timings["daylib GradCAM, 3 classes"] / timings["daylib GradCAM, 1 class"], "<= 1.6"),
    ]
    print("Ratios (goal):")
    for name, ratio, goal in ratios:
        print(f"  {name:<32} {ratio:6.2f}x  (goal {goal})")


if __name__ == "__main__":
    main()
