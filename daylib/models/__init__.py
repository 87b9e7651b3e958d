"""Models: the bundled ImageNet network, the backbone registry and transfer classifiers.

Example:
    >>> from daylib.models import efficientnet_lite0, build_classifier
    >>> model = efficientnet_lite0()          # ImageNet weights, offline
"""
from daylib.models.backbones import BACKBONES, OfflineWeightsError, backbone, get_spec, preprocess_input
from daylib.models.classifier import base_model, build_classifier, freeze, trainable_layer_names, unfreeze
from daylib.models.efficientnet_lite import efficientnet_lite0
from daylib.models.layers import conv_layers, find_layer
from daylib.models.scratch import small_cnn


__all__ = [
    "BACKBONES", "OfflineWeightsError", "backbone", "get_spec", "preprocess_input",
    "base_model", "build_classifier", "freeze", "trainable_layer_names", "unfreeze",
    "conv_layers", "find_layer", "efficientnet_lite0", "small_cnn",
]
