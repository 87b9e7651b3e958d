"""Tiny models for the heatmap tests: every way a course model can be put together."""
import keras
import numpy as np

SIZE = 32


def small_base(size: int = SIZE, name: str = "small_base") -> keras.Model:
    """A functional conv base (with BN and a residual add) ending in a 4-D ``top`` layer."""
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="rescale")(inputs)
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", name="conv1")(x)
    x = keras.layers.BatchNormalization(name="bn1")(x)
    x = keras.layers.ReLU(name="relu1")(x)
    y = keras.layers.Conv2D(8, 3, padding="same", name="conv2")(x)
    x = keras.layers.Add(name="add")([x, y])
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", name="conv3")(x)
    x = keras.layers.ReLU(name="top")(x)
    return keras.Model(inputs, x, name=name)


def nested_functional(base: keras.Model, classes: int = 3, activation: str = "softmax") -> keras.Model:
    """``x = base(inputs, training=False)`` then GAP, dropout and a Dense head."""
    inputs = keras.Input(base.inputs[0].shape[1:])
    x = base(inputs, training=False)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    x = keras.layers.Dropout(0.2, name="dropout")(x)
    outputs = keras.layers.Dense(classes, activation=activation, name="head")(x)
    return keras.Model(inputs, outputs, name="nested")


def flattened(nested: keras.Model, base: keras.Model) -> keras.Model:
    """The same network as ``nested`` (shared layers and weights) without the nesting."""
    x = base.outputs[0]
    for name in ("gap", "dropout", "head"):
        x = nested.get_layer(name)(x)
    return keras.Model(base.inputs, x, name="flat")


def images(count: int = 2, size: int = SIZE, seed: int = 0) -> np.ndarray:
    """Smooth random RGB images 0-255 (a bright blob on a darker field)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    out = np.empty((count, size, size, 3), np.float32)
    for i in range(count):
        cy, cx = rng.uniform(0.25, 0.75, 2) * size
        blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * (size / 6) ** 2))
        out[i] = 40 + 200 * blob[..., None] * rng.uniform(0.5, 1.0, 3) + rng.normal(0, 8, (size, size, 3))
    return np.clip(out, 0, 255)
