"""Class activation maps: where does a classifier look?

Every method shares one base (:class:`BaseCAM`: one forward pass, gradients for all
requested classes at once, ReLU, upsampling, normalisation) and differs only in
how it weights the feature-map channels. Heatmap metrics live in
:mod:`daylib.cam.metrics`; overlays in :mod:`daylib.viz.heatmaps`.

Example:
    >>> from daylib.cam import GradCAM
    >>> cam = GradCAM(model)                 # last conv layer, also inside a nested base
    >>> heatmaps = cam(images)               # (B, H, W) in [0, 1], for the predicted classes
"""
from daylib.cam.base import BaseCAM
from daylib.cam.graph import Head, SplitModel, split_model
from daylib.cam.methods import CAM, GradCAM, GradCAMPlusPlus, LayerCAM, ScoreCAM

METHODS = {"CAM": CAM, "Grad-CAM": GradCAM, "Grad-CAM++": GradCAMPlusPlus, "Score-CAM": ScoreCAM, "LayerCAM": LayerCAM}
"""The methods by display name, e.g. for a widget's drop-down."""

__all__ = [
    "BaseCAM", "CAM", "GradCAM", "GradCAMPlusPlus", "LayerCAM", "ScoreCAM", "METHODS", "Head", "SplitModel", "split_model",
]
