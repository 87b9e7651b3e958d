"""Class activation maps: where does a classifier look?

Every method shares one base (:class:`BaseCAM`: one forward pass, gradients for all
requested classes at once, ReLU, upsampling, normalisation) and differs only in
how it weights the feature-map channels (:mod:`daylib.cam.methods`). The methods are
listed once, in :mod:`daylib.cam.registry`: every registered class is exported here,
and :data:`METHODS` maps their display labels to them. Heatmap metrics live in
:mod:`daylib.cam.metrics`, the checks of heatmaps, masks, boxes and class indices in
:mod:`daylib.cam.targets`; overlays in :mod:`daylib.viz.heatmaps`; splitting a model at
a layer in :mod:`daylib.models.split` (re-exported here).

Example:
    >>> from daylib.cam import GradCAM, METHODS
    >>> cam = GradCAM(model)                 # last conv layer, also inside a nested base
    >>> heatmaps = cam(images)               # (B, H, W) in [0, 1], for the predicted classes
    >>> maps = {label: method(model)(images) for label, method in METHODS.items()}
"""
from daylib.cam import methods, gradients, guided  # noqa: F401  (importing them registers every method)
from daylib.cam.base import BaseCAM
from daylib.cam.registry import METHOD_LABELS, METHODS, method_class, method_key, methods as registered, register
from daylib.models.split import Head, SplitModel, split_model

globals().update({method.cls.__name__: method.cls for method in registered()})  # GradCAM, ScoreCAM, ...

__all__ = [
    "BaseCAM", *(method.cls.__name__ for method in registered()), "METHODS", "METHOD_LABELS", "method_class",
    "method_key", "register", "Head", "SplitModel", "split_model",
]
