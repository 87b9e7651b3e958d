"""Split a Keras model at a feature-map layer, also when that layer sits inside a nested base.

A Grad-CAM needs two tensors from one forward pass: the feature map of the chosen
layer and the class *logits*. The tutorial recipe
``keras.Model(model.inputs, [layer.output, model.output])`` fails in Keras 3 when
the layer lives in a nested base (``Sequential([base, GAP, Dense])`` or
``x = base(inputs)``): the inner layer was never called on the outer model's
input ("graph disconnected" / "never been called").

:func:`split_model` instead *replays* the model on a fresh ``keras.Input``: it calls
the model's own layer objects again, in order, entering nested Sequential and
functional models, and keeps the tensors it needs. A Sequential model is replayed by
calling ``model.layers`` in turn; a functional one through its own graph
(:func:`daylib.models.compat.run_through_graph`, which says why ``keras.models.clone_model``
cannot do it), handing every layer call to us. A nested model is replayed the same way
on the outer tensors, so its inner layers' outputs belong to the outer graph. The result is one flat functional model
``image -> [feature map, head input]`` that shares every weight with the user's model
(nothing is cloned, re-initialised, recompiled or re-activated).

The class scores are the *logits*, read without touching the model:

- final ``Dense`` (any of softmax / sigmoid / linear): ``head input @ kernel + bias``
  with the Dense's own variables;
- final ``Activation("softmax" | "sigmoid")`` or ``Softmax`` layer: its input;
- a single output unit is a binary classifier with two classes: class 1 scores
  ``+logit`` and class 0 scores ``-logit``.

Example:
    >>> from daylib.models.split import split_model
    >>> split = split_model(model, "top_activation")
    >>> features, logits = split(images)       # one forward pass
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import keras
import tensorflow as tf

from daylib.models import compat
from daylib.models.layers import LayerRef, conv_layers, find_layer, is_4d, require_model, short_list

__all__ = ["Head", "SplitModel", "split_model"]

PROBABILITY_ACTIVATIONS = ("softmax", "sigmoid")
IDENTITY_AT_INFERENCE = tuple(
    getattr(keras.layers, name)
    for name in (
        "Dropout", "SpatialDropout1D", "SpatialDropout2D", "GaussianDropout", "GaussianNoise",
        "AlphaDropout", "ActivityRegularization", "Identity",
    )
    if hasattr(keras.layers, name)
)
"""Layers that pass their input through unchanged at inference (allowed between pooling and Dense for CAM)."""

_SUBCLASSED = (
    "Model {name!r} is a subclassed keras.Model (its own call()), so its layers cannot be followed. "
    "Heatmaps need functional or Sequential models; build the model with keras.Input(...) or keras.Sequential."
)


@dataclass(frozen=True)
class Head:
    """How the class scores of a classifier are read from its last layers.

    Attributes:
        activation: ``"softmax"``, ``"sigmoid"``, ``"linear"`` (the model outputs logits)
            or ``"none"`` (an unknown last layer: its outputs are used as they are).
        units: number of output units of the model.
        dense: the final ``Dense`` layer when the logits are ``x @ kernel + bias``
            of a Dense layer (its kernel also gives the CAM weights), else ``None``.

    Example:
        >>> head = split_model(model).head
        >>> head.activation, head.n_classes
        ('softmax', 1000)
    """

    activation: str
    units: int
    dense: Optional[keras.layers.Dense]

    @property
    def binary(self) -> bool:
        """True for a single output unit: two classes, 0 (negative) and 1 (positive)."""
        return self.units == 1

    @property
    def n_classes(self) -> int:
        """Number of classes a heatmap can be asked for (2 for a single-unit output)."""
        return 2 if self.binary else self.units

    def logits(self, head_input: tf.Tensor) -> tf.Tensor:
        """Class logits ``(batch, n_classes)`` from the head input; ``[-z, z]`` for one unit.

        Example:
            >>> split.head.logits(head_input).shape
            TensorShape([2, 1000])
        """
        z = head_input
        if self.dense is not None:
            z = tf.matmul(head_input, tf.convert_to_tensor(self.dense.kernel))
            if self.dense.bias is not None:
                z = z + tf.convert_to_tensor(self.dense.bias)
        z = tf.cast(z, tf.float32)
        return tf.concat([-z, z], axis=-1) if self.binary else z

    def probabilities(self, logits: tf.Tensor) -> tf.Tensor:
        """Class probabilities ``(batch, n_classes)`` from :meth:`logits`.

        Softmax heads and multi-unit linear heads give a softmax; sigmoid heads and a
        single linear unit give a sigmoid per unit (``[1 - p, p]`` for one unit, since its
        logits are ``[-z, z]``); a ``"none"`` head returns the model's outputs as they are
        (``[1 - y, y]`` for one unit).

        Example:
            >>> split.head.probabilities(logits).numpy().sum(axis=1)   # softmax head
            array([1., 1.], dtype=float32)
        """
        if self.activation == "none":
            return tf.concat([1 - logits[:, 1:], logits[:, 1:]], axis=-1) if self.binary else logits
        if self.binary or self.activation == "sigmoid":
            return tf.nn.sigmoid(logits)
        return tf.nn.softmax(logits, axis=-1)

    def class_weights(self) -> tf.Tensor:
        """Dense kernel as ``(channels, n_classes)`` (``[-w, w]`` for one unit): the CAM weights.

        Example:
            >>> split.head.class_weights().shape
            TensorShape([1280, 1000])
        """
        if self.dense is None:
            raise ValueError("This model's class scores do not come from a Dense layer, so it has no CAM weights.")
        kernel = tf.cast(tf.convert_to_tensor(self.dense.kernel), tf.float32)
        return tf.concat([-kernel, kernel], axis=-1) if self.binary else kernel


@dataclass(frozen=True)
class SplitModel:
    """A model split at a feature-map layer: ``images -> (features, logits)`` in one pass.

    Attributes:
        model: flat functional model ``images -> [features, head input]`` sharing the
            user's weights.
        layer_path: path of the feature-map layer (``"base/out_relu"`` for a nested base).
        head: how logits and probabilities are read (:class:`Head`).
        pooled_dense: True when the feature map goes straight into global average
            pooling, optional dropout and the final Dense: the shape the original CAM needs.
        input_shape: the model's input shape without the batch axis.

    Example:
        >>> split = split_model(model, layer=-1)
        >>> features, logits = split(images)
    """

    model: keras.Model
    layer_path: str
    head: Head
    pooled_dense: bool
    input_shape: tuple

    def __call__(self, images: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Run one inference forward pass; return ``(features, logits)``.

        Example:
            >>> features, logits = split(tf.zeros((1, 64, 64, 3)))
        """
        features, head_input = self.model(images, training=False)
        return features, self.head.logits(head_input)


def split_model(model: keras.Model, layer: LayerRef = None) -> SplitModel:
    """Split ``model`` at ``layer`` (a name, path, index into the conv layers, or ``None`` for the last).

    Works on functional and Sequential models and on bases nested in them at any
    depth. The user's model is not changed: its layers are called again on a new
    input, which only records another (unused) call in each layer.

    Raises:
        ValueError: unknown layer (the message lists the valid ones), a layer without a
            4-D output, a model without conv layers, an unbuilt, multi-input,
            multi-output or subclassed model, or a last layer that is not a classifier output.

    Example:
        >>> split = split_model(keras.Sequential([base, GlobalAveragePooling2D(), Dense(3)]))
        >>> split.layer_path
        'mobilenetv2_0.35_64/out_relu'
    """
    _check_model(model)
    path, target = find_layer(model, layer)
    if not is_4d(target):
        shape = getattr(target, "output", None)
        shape = getattr(shape, "shape", "unknown")
        raise ValueError(
            f"Layer {path!r} outputs shape {shape}, not a 4-D feature map (batch, height, width, channels). "
            f"Heatmaps need a convolutional layer; pick one of: {short_list(conv_layers(model))}"
        )
    spec = model.inputs[0]
    image = keras.Input(shape=tuple(spec.shape[1:]), dtype=spec.dtype)
    replay = _Replay(target, path)
    output = replay.run(model, image)
    if isinstance(output, (list, tuple, dict)):
        if len(output) != 1:
            raise ValueError(f"Model {model.name!r} has {len(output)} outputs; heatmaps need a classifier with one output.")
        output = list(output.values())[0] if isinstance(output, dict) else output[0]
    if replay.features is None:
        raise ValueError(f"Layer {path!r} is not used when model {model.name!r} computes its output.")
    head, head_input = _read_head(model, output, replay.producers)
    pooled = head.dense is not None and _feeds_pooled_dense(head.dense, replay.features, replay.producers)
    flat = keras.Model(image, [replay.features, head_input], name=f"{model.name}_split")
    return SplitModel(model=flat, layer_path=path, head=head, pooled_dense=pooled, input_shape=tuple(spec.shape[1:]))


class _Replay:
    """Call a model's layers again on new tensors, entering nested models, recording producers."""

    def __init__(self, target: keras.layers.Layer, path: str):
        self.target = target
        self.path = path
        self.features: Any = None
        self.producers: dict[int, tuple[keras.layers.Layer, tuple]] = {}

    def run(self, model: keras.Model, inputs: Any) -> Any:
        if isinstance(model, keras.Sequential):
            x = inputs
            for layer in model.layers:
                x = self.call(layer, x)
            return x
        if not compat.is_functional(model):
            raise ValueError(_SUBCLASSED.format(name=model.name))
        return compat.run_through_graph(model, inputs, self.call)

    def call(self, layer: keras.layers.Layer, *args: Any, **kwargs: Any) -> Any:
        if isinstance(layer, keras.Model):
            output = self.run(layer, args[0])
        else:
            output = layer(*args, **kwargs)
            self.producers[id(output)] = (layer, args)
        if layer is self.target:
            if self.features is not None:
                raise ValueError(f"Layer {self.path!r} is called more than once in the model, so its feature map is ambiguous.")
            self.features = output
        return output


def _check_model(model: keras.Model) -> None:
    require_model(model)
    if not isinstance(model, keras.Sequential) and not compat.is_functional(model):
        raise ValueError(_SUBCLASSED.format(name=model.name))
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        inputs = None
    if not inputs:
        raise ValueError(
            f"Model {model.name!r} has not been built, so its layers have no shapes yet. "
            "Start it with keras.Input(shape=...) or call model.build((None, H, W, 3)) first."
        )
    if len(inputs) != 1:
        raise ValueError(f"Model {model.name!r} has {len(inputs)} inputs; heatmaps need a model with one image input.")


def _activation_name(layer: keras.layers.Layer) -> str:
    if isinstance(layer, keras.layers.Softmax):
        return "softmax"
    activation = getattr(layer, "activation", None)
    return getattr(activation, "__name__", "none") if activation is not None else "none"


def _read_head(model: keras.Model, output: Any, producers: dict) -> tuple[Head, Any]:
    if len(output.shape) != 2:
        raise ValueError(
            f"Model {model.name!r} outputs shape {output.shape}; heatmaps need a classifier whose output is "
            "(batch, classes), e.g. ending in GlobalAveragePooling2D and Dense."
        )
    units = int(output.shape[-1])
    layer, args = producers.get(id(output), (None, ()))
    if isinstance(layer, keras.layers.Dense):
        activation = _activation_name(layer)
        if activation not in PROBABILITY_ACTIVATIONS + ("linear",):
            raise ValueError(
                f"The final Dense layer {layer.name!r} uses activation {activation!r}; heatmaps need class scores "
                "from a softmax, sigmoid or linear (logits) output."
            )
        return Head(activation, units, layer), args[0]
    is_activation = isinstance(layer, (keras.layers.Activation, keras.layers.Softmax))
    if is_activation and _activation_name(layer) in PROBABILITY_ACTIVATIONS:
        pre = args[0]
        inner, inner_args = producers.get(id(pre), (None, ()))
        if isinstance(inner, keras.layers.Dense) and _activation_name(inner) == "linear":
            return Head(_activation_name(layer), units, inner), inner_args[0]
        return Head(_activation_name(layer), units, None), pre
    return Head("none", units, None), output


def _feeds_pooled_dense(dense: keras.layers.Dense, features: Any, producers: dict) -> bool:
    tensor = _dense_input(dense, producers)
    while tensor is not None:
        layer, args = producers.get(id(tensor), (None, ()))
        if isinstance(layer, IDENTITY_AT_INFERENCE):
            tensor = args[0]
            continue
        return (
            isinstance(layer, keras.layers.GlobalAveragePooling2D)
            and not layer.keepdims
            and layer.data_format == "channels_last"
            and args[0] is features
        )
    return False


def _dense_input(dense: keras.layers.Dense, producers: dict) -> Any:
    for layer, args in producers.values():
        if layer is dense:
            return args[0]
    return None
