"""Figure-layout checks shared by the plotting tests."""
from matplotlib.backends.backend_agg import FigureCanvasAgg


def assert_titles_fit(fig, tolerance: float = 1.0):
    """Draw ``fig`` with Agg: no title overlaps another or any panel, each stays over its panel, all in the figure."""
    FigureCanvasAgg(fig).draw()
    renderer = fig.canvas.get_renderer()
    panels = [ax.get_window_extent(renderer) for ax in fig.axes]
    titles = [(ax.title.get_window_extent(renderer), panel) for ax, panel in zip(fig.axes, panels) if ax.get_title()]
    figure = fig.bbox
    for n, (box, panel) in enumerate(titles):
        assert panel.x0 - tolerance <= box.x0 and box.x1 <= panel.x1 + tolerance, f"title {n} is wider than its panel"
        assert figure.x0 <= box.x0 and box.x1 <= figure.x1 and box.y1 <= figure.y1, f"title {n} leaves the figure"
        for other in [b for b, _ in titles[n + 1 :]] + panels:
            assert not _overlap(box, other, tolerance), f"title {n} overlaps another title or a panel"
    if fig._suptitle is not None:
        box = fig._suptitle.get_window_extent(renderer)
        assert figure.x0 <= box.x0 and box.x1 <= figure.x1 and box.y1 <= figure.y1, "the suptitle leaves the figure"
        assert not any(_overlap(box, other, tolerance) for other in panels + [b for b, _ in titles])


def _overlap(a, b, tolerance: float) -> bool:
    return a.x0 < b.x1 - tolerance and b.x0 < a.x1 - tolerance and a.y0 < b.y1 - tolerance and b.y0 < a.y1 - tolerance
