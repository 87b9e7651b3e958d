"""Preprocessing layers that live inside every course model.

All models in the course take RGB images with values 0-255. Each backbone family
expects its own scaling, so that scaling is built into the model as its first
layer; a learner never has to remember which ``preprocess_input`` goes with
which network, and heatmaps/overlays work on the same 0-255 image.

Example:
    >>> layer = preprocessing_layer("tf")      # x / 127.5 - 1
    >>> layer = preprocessing_layer("caffe")   # RGB->BGR, minus ImageNet means
"""
from __future__ import annotations

import keras
from keras import ops

IMAGENET_BGR_MEANS = (103.939, 116.779, 123.68)


@keras.saving.register_keras_serializable(package="daylib")
class CaffePreprocess(keras.layers.Layer):
    """VGG/ResNet ("caffe") preprocessing: RGB -> BGR, then subtract ImageNet channel means.

    Example:
        >>> CaffePreprocess()(np.full((1, 2, 2, 3), 128.0)).shape
        TensorShape([1, 2, 2, 3])
    """

    def call(self, inputs):
        bgr = ops.flip(inputs, axis=-1)
        return bgr - ops.convert_to_tensor(IMAGENET_BGR_MEANS, dtype=bgr.dtype)


def preprocessing_layer(mode: str, name: str = "preprocess") -> keras.layers.Layer:
    """Return the layer that maps RGB 0-255 to what a backbone family expects.

    Modes: ``"tf"`` (MobileNet, MobileNetV2, InceptionV3: ``x / 127.5 - 1``),
    ``"caffe"`` (VGG16, ResNet50), ``"lite"`` (EfficientNet-Lite0: ``(x - 127) / 128``),
    ``"none"`` (the network scales its own input, e.g. keras EfficientNetB0).

    Example:
        >>> preprocessing_layer("lite").name
        'preprocess'
    """
    if mode == "tf":
        return keras.layers.Rescaling(1 / 127.5, offset=-1.0, name=name)
    if mode == "lite":
        return keras.layers.Rescaling(1 / 128, offset=-127 / 128, name=name)
    if mode == "caffe":
        return CaffePreprocess(name=name)
    if mode == "none":
        return keras.layers.Identity(name=name)
    raise ValueError(f"Unknown preprocessing mode {mode!r}; use one of 'tf', 'caffe', 'lite', 'none'.")
