"""Interactive explorers for heatmaps and feature maps, and the plain functions they are built on.

The explorers (ipywidgets 8: JupyterLab 4, Colab) only wire controls to functions
that return pictures, so tests and static pages get the same result:

- :func:`heatmap_explorer` (layer, class, method, alpha, image) on :func:`render_heatmap`;
  static twin :func:`heatmap_grid`.
- :func:`layer_explorer` (feature maps of any layer) on :func:`render_feature_maps`;
  static twin :func:`plot_feature_maps`.
- :func:`snapshot_explorer` steps through precomputed heatmaps (e.g. per fine-tuning epoch).

Modules: :mod:`~daylib.widgets.render` (pictures as arrays, with their caches),
:mod:`~daylib.widgets.figures` (static matplotlib figures), :mod:`~daylib.widgets.controls`
(the shared controls), :mod:`~daylib.widgets.explorers` (the widgets). The layers they
offer come from :mod:`daylib.models.layers` (:func:`feature_layers`, :func:`stage_layers`,
re-exported here), the methods from :mod:`daylib.cam.registry`.

Example:
    >>> from daylib.widgets import heatmap_explorer, heatmap_grid
    >>> heatmap_grid(model, cat, class_index=285)      # shows on GitHub too
    >>> heatmap_explorer(model, cat)                    # live, with a kernel
"""
from daylib.models.layers import feature_layers, stage_layers
from daylib.widgets.controls import Explorer
from daylib.widgets.explorers import (
    HeatmapExplorer,
    LayerExplorer,
    SnapshotExplorer,
    heatmap_explorer,
    layer_explorer,
    snapshot_explorer,
)
from daylib.widgets.figures import heatmap_grid, plot_feature_maps
from daylib.widgets.render import FeatureMaps, HeatmapRenderer, feature_grid, render_feature_maps, render_heatmap

__all__ = [
    "Explorer", "FeatureMaps", "HeatmapExplorer", "HeatmapRenderer", "LayerExplorer", "SnapshotExplorer",
    "feature_grid", "feature_layers", "heatmap_explorer", "heatmap_grid", "layer_explorer", "plot_feature_maps",
    "render_feature_maps", "render_heatmap", "snapshot_explorer", "stage_layers",
]
