"""How fast are daylib's heatmap methods? Ratios measured side by side in one run, on the bundled model.

Compares, on EfficientNet-Lite0 (ImageNet weights) at 224 px with a batch of 32:

1. daylib ``GradCAM`` against the floor: the bare compiled forward pass plus the
   gradient to the layer (goal: at most 1.15x).
2. daylib ``GradCAM`` against a per-image Grad-CAM written the way tutorials do it
   (a gradient model built per call, one image and one class per pass, eager), for
   32 images x 3 classes (goal: at least 10x faster).
3. daylib ``GradCAM`` with 3 classes per image against 1 class (goal: at most 1.6x).
4. Every registered method (``daylib.cam.registry.methods()``, so methods added later
   appear too), with its default options, against its own floor, the passes it cannot avoid:

   - gradient CAMs (Grad-CAM, Grad-CAM++, LayerCAM, HiResCAM, XGrad-CAM): the forward
     pass and the gradient to the layer;
   - CAM, Eigen-CAM: the forward pass;
   - Score-CAM: the forward pass and its ``B * max_channels`` masked forward passes in
     batches of ``batch_size`` (goal: at most 1.2x);
   - Ablation-CAM: the forward pass and its ``B * max_channels`` ablated passes of the
     network after the layer, in batches of ``batch_size``;
   - input-gradient methods (``uses_layer`` False, and Guided Grad-CAM): one input-gradient
     pass of the batch per sample (SmoothGrad's ``samples``, Integrated Gradients'
     ``steps + 1`` path points, 1 for the others); the ratio is time per sample over one pass.

Timings are medians of several runs; the machine is shared, so read the ratios.
Run: ``python benchmarks/bench_cam.py`` (several minutes on a 2-core CPU;
``--methods-only`` skips parts 1-3, ``--only scorecam,ablationcam`` picks methods).
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
from daylib.cam.registry import methods
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


FORWARD_ONLY = ("cam", "eigencam")


def method_floor(key: str, cam: object, images: tf.Tensor) -> tuple[Callable[[], object], int, str]:
    """The passes method ``key`` cannot avoid on ``images``, as a compiled callable; with its sample count and a note."""
    split = cam.split
    batch = int(images.shape[0])
    forward = tf.function(lambda x: split(x))
    if getattr(cam, "uses_layer", True) is False or key.startswith("guided"):
        samples = getattr(cam, "samples", None) or (getattr(cam, "steps", 0) + 1 if hasattr(cam, "steps") else 1)

        @tf.function
        def input_gradient(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                logits = split(x)[1]
                score = tf.reduce_sum(logits[:, 0])
            return logits, tape.gradient(score, x)

        return (lambda: input_gradient(images)), samples, f"input-gradient pass x {samples} samples"
    if key in FORWARD_ONLY:
        return (lambda: forward(images)), 1, "forward"
    if key in ("scorecam", "ablationcam"):
        channels = int(split(images[:1])[0].shape[-1])
        kept = channels if cam.max_channels is None else min(cam.max_channels, channels)
        size = min(cam.batch_size, batch * kept)
        chunks = -(-batch * kept // size)
        if key == "scorecam":
            chunk = tf.constant(np.resize(images.numpy(), (size, *images.shape[1:])))
            def one(x):
                return split.head.probabilities(split(x)[1])
        else:
            chunk = tf.constant(np.resize(forward(images)[0].numpy(), (size, *split(images[:1])[0].shape[1:])))
            one = cam.head

        @tf.function
        def passes():  # in one graph like the method's; each pass gets its own input so none is hoisted out
            outputs = tf.map_fn(lambda i: one(chunk + tf.cast(i, tf.float32) * 1e-3), tf.range(chunks),
                                fn_output_signature=tf.float32)
            return forward(images), outputs

        what = "masked forward" if key == "scorecam" else "ablated head"
        return passes, 1, f"forward + {chunks} x {size} {what} passes"

    @tf.function
    def forward_and_gradient(x):
        with tf.GradientTape() as tape:
            features, logits = split(x)
            score = tf.reduce_sum(logits[:, 0])
        return features, logits, tape.gradient(score, features)  # the features too, or the forward pass is pruned

    return (lambda: forward_and_gradient(images)), 1, "forward + gradient"


def method_table(model: keras.Model, images: np.ndarray, repeats: int, only: set[str]) -> None:
    """Each registered method against its floor, interleaved, printed as a table."""
    tensor = tf.constant(images)
    print(f"\nEvery registered method, default options, batch {len(images)}, predicted class; medians of {repeats}")
    print(f"  {'method':<22} {'method ms':>11} {'floor ms':>11} {'ratio':>7}  floor")
    for method in methods():
        if only and method.key not in only:
            continue
        try:
            cam = method.cls(model)
        except ValueError as error:  # e.g. CAM on a model without a pooled Dense head
            print(f"  {method.label:<22} not applicable: {str(error)[:60]}")
            continue
        floor, samples, note = method_floor(method.key, cam, tensor)
        timings = interleaved_medians({"method": lambda: cam(images), "floor": floor}, repeats)
        ratio = timings["method"] / (samples * timings["floor"])
        goal = "  (goal <= 1.2)" if method.key == "scorecam" else ""
        print(
            f"  {method.label:<22} {timings['method'] * 1000:11.1f} {samples * timings['floor'] * 1000:11.1f} "
            f"{ratio:6.2f}x  {note}{goal}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=9, help="timed rounds of the fast variants (interleaved)")
    parser.add_argument("--tutorial-repeats", type=int, default=2, help="timed runs of the per-image tutorial loop (~40 s each)")
    parser.add_argument("--method-repeats", type=int, default=3, help="timed rounds of each method and its floor")
    parser.add_argument("--methods-only", action="store_true", help="skip the Grad-CAM comparisons (parts 1-3)")
    parser.add_argument("--only", default="", help="comma-separated method keys for part 4 (default: all)")
    args = parser.parse_args()

    model = efficientnet_lite0(weights="imagenet", input_shape=(args.size, args.size, 3))
    images = sample_images(args.batch, args.size)
    if not args.methods_only:
        grad_cam_comparisons(model, images, args)
    method_table(model, images, args.method_repeats, {key for key in args.only.split(",") if key})


def grad_cam_comparisons(model: keras.Model, images: np.ndarray, args: argparse.Namespace) -> None:
    """Parts 1-3: Grad-CAM against its floor, the tutorial loop, and 3 classes against 1."""
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
