"""Pictures: overlays and heatmap grids, X-ray grids, training curves and result plots.

Submodules: :mod:`daylib.viz.heatmaps` (``overlay``, ``show_heatmaps``),
:mod:`daylib.viz.xrays` (``show_xrays``), :mod:`daylib.viz.results` (curves,
confusion matrix, ROC), :mod:`daylib.viz.sanity` (``show_randomization``, ``plot_similarity``:
the sanity checks' figures).

Example:
    >>> from daylib.viz import notebook_style
    >>> notebook_style()          # modest figure size/DPI so stored notebooks stay small
"""


def notebook_style(dpi: int = 80) -> None:
    """Set matplotlib defaults for the course: modest DPI, readable fonts, no top/right spines.

    Example:
        >>> notebook_style(dpi=72)
    """
    import matplotlib.pyplot as plt

    plt.rcParams.update({
        "figure.dpi": dpi,
        "savefig.dpi": dpi,
        "figure.figsize": (8, 4),
        "font.size": 10,
        "axes.spines.top": False,
        "axes.spines.right": False,
    })
