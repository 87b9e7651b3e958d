"""Models: the bundled ImageNet network, the backbone registry, transfer classifiers and the layer tools.

- :mod:`~daylib.models.backbones` (the registry), :mod:`~daylib.models.efficientnet_lite`
  (bundled ImageNet model), :mod:`~daylib.models.imagenet` (class names),
  :mod:`~daylib.models.classifier` (build, freeze, unfreeze), :mod:`~daylib.models.scratch`.
- The layer tools, each rule once: :mod:`~daylib.models.layers` (list, find and choose
  layers, also inside a nested base) and :mod:`~daylib.models.split` (split a model at a
  layer: features and logits in one pass).
- :mod:`~daylib.models.inference` (the one batched-inference loop),
  :mod:`~daylib.models.compat` (every private Keras call), :mod:`~daylib.models.digest`.

Example:
    >>> from daylib.models import efficientnet_lite0, build_classifier, feature_layers
    >>> model = efficientnet_lite0()          # ImageNet weights, offline
    >>> feature_layers(model)[-1]
    'top_activation'
"""
from daylib.models.backbones import BACKBONES, OfflineWeightsError, backbone, get_spec, preprocess_input
from daylib.models.classifier import build_classifier, freeze, trainable_layer_names, unfreeze
from daylib.models.efficientnet_lite import efficientnet_lite0
from daylib.models.layers import (
    HEAD_LAYERS,
    augmentation_layers,
    base_model,
    conv_layers,
    feature_layers,
    find_layer,
    head_layers,
    iter_layers,
    stage_layers,
)
from daylib.models.scratch import small_cnn
from daylib.models.split import split_model

__all__ = [
    "BACKBONES", "OfflineWeightsError", "backbone", "get_spec", "preprocess_input",
    "build_classifier", "freeze", "trainable_layer_names", "unfreeze", "efficientnet_lite0", "small_cnn",
    "HEAD_LAYERS", "augmentation_layers", "base_model", "conv_layers", "feature_layers", "find_layer",
    "head_layers", "iter_layers", "stage_layers", "split_model",
]
