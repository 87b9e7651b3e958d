"""The outcome of a sanity check (:mod:`daylib.cam.sanity`): maps per step, similarities, and the pass rule.

Example:
    >>> result = cascading_randomization(model, images, ["gradcam", "saliency"])
    >>> result.passes()
    {'Grad-CAM': True, 'Saliency': True}
    >>> result.summary()[0]["spearman_abs_mean"]
    0.31
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from daylib.cam.similarity import SIMILARITIES

__all__ = ["PASS_THRESHOLD", "SanityResult"]

PASS_THRESHOLD = 0.5
"""A method passes when its ``|spearman_abs|``, averaged over images and steps, is below this (see the module docstring)."""


@dataclass
class SanityResult:
    """The outcome of a sanity check: the maps at every step and their similarity with the originals.

    Attributes:
        test: ``"cascading"``, ``"independent"`` or ``"data"``.
        methods: the method labels, in the order given.
        steps: the step names, in order: block names (cascading: block ``k`` means it and every
            block above it are re-initialised; independent: only that block), or
            ``["random labels"]`` for the data test.
        classes: ``(B,)`` the class explained in every map (fixed across steps).
        original: label -> ``(B, H, W)`` the maps of the original model (data test: true labels).
        maps: label -> ``(S, B, H, W)`` the maps after each step.
        rows: one dict per method x step x image: ``method``, ``step``, ``image`` and the four
            :data:`SIMILARITIES` (``spearman_signed`` is ``None`` where a method has no signed maps).
        threshold: the pass threshold on the mean ``|spearman_abs|``.
        blocks: step name -> the layer paths re-initialised in that step (empty for the data test).
        accuracy: data test only: ``{"true labels": {"train": a, "validation": b}, "random labels": {...}}``
            (train accuracy against the labels each model was trained on, validation accuracy against
            the true labels); ``None`` otherwise.

    Example:
        >>> result.steps
        ['head', 'top', 'add']
        >>> result.to_rows()[0]
        {'method': 'Grad-CAM', 'step': 'head', 'image': 0, 'spearman_abs': 0.12, 'spearman_signed': 0.05, ...}
    """

    test: str
    methods: list[str]
    steps: list[str]
    classes: np.ndarray
    original: dict[str, np.ndarray]
    maps: dict[str, np.ndarray]
    rows: list[dict[str, Any]]
    threshold: float = PASS_THRESHOLD
    blocks: dict[str, list[str]] = field(default_factory=dict)
    accuracy: Optional[dict[str, dict[str, float]]] = None

    def to_rows(self) -> list[dict[str, Any]]:
        """The tidy table: one dict per method x step x image (a copy; ``pandas.DataFrame(rows)`` reads it).

        Example:
            >>> len(result.to_rows()) == len(result.methods) * len(result.steps) * len(result.classes)
            True
        """
        return [dict(row) for row in self.rows]

    def summary(self) -> list[dict[str, Any]]:
        """Mean and standard deviation over images per method x step: keys ``method``, ``step``,
        ``<similarity>_mean`` and ``<similarity>_std`` for each of :data:`SIMILARITIES`
        (``None`` for ``spearman_signed`` where the method has no signed maps).

        Example:
            >>> result.summary()[0]["spearman_abs_mean"]
            0.12
        """
        out = []
        for method in self.methods:
            for step in self.steps:
                values = [row for row in self.rows if row["method"] == method and row["step"] == step]
                entry: dict[str, Any] = {"method": method, "step": step}
                for name in SIMILARITIES:
                    column = [row[name] for row in values if row[name] is not None]
                    entry[f"{name}_mean"] = float(np.mean(column)) if column else None
                    entry[f"{name}_std"] = float(np.std(column)) if column else None
                out.append(entry)
        return out

    def similarity(self, name: str = "spearman_abs") -> dict[str, np.ndarray]:
        """label -> ``(S, B)`` one similarity per step and image (for plots).

        For ``spearman_signed`` only the methods with signed maps are in the dict.

        Raises:
            ValueError: an unknown similarity name, or ``spearman_signed`` when no method has signed maps.

        Example:
            >>> result.similarity("ssim")["Grad-CAM"].shape
            (3, 2)
        """
        if name not in SIMILARITIES:
            raise ValueError(f"Unknown similarity {name!r}; use one of {', '.join(SIMILARITIES)}.")
        out = {}
        for method in self.methods:
            rows = [row for row in self.rows if row["method"] == method]
            if any(row[name] is None for row in rows):
                continue
            grid = np.zeros((len(self.steps), len(self.classes)))
            for row in rows:
                grid[self.steps.index(row["step"]), row["image"]] = row[name]
            out[method] = grid
        if not out:
            raise ValueError(
                f"No method has signed maps (last_signed_maps), so there is no {name}; use 'spearman_abs'."
            )
        return out

    def passes(self) -> dict[str, bool]:
        """label -> whether the method passes the test (the rule is in the module docstring).

        Example:
            >>> result.passes()
            {'Grad-CAM': True, 'Edges': False}
        """
        out = {}
        for method, grid in self.similarity("spearman_abs").items():
            out[method] = bool(np.abs(grid).mean() < self.threshold)
        return out

    def _repr_html_(self) -> str:
        titles = {"cascading": "Cascading randomisation", "independent": "Independent randomisation",
                  "data": "Data randomisation"}
        head = "".join(f"<th>{html.escape(name)}</th>" for name in ("method", "step", *SIMILARITIES))
        body = []
        for entry in self.summary():
            cells = [html.escape(entry["method"]), html.escape(entry["step"])]
            for name in SIMILARITIES:
                mean, std = entry[f"{name}_mean"], entry[f"{name}_std"]
                cells.append("&ndash;" if mean is None else f"{mean:.3f} &plusmn; {std:.3f}")
            body.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
        verdicts = ", ".join(
            f"{html.escape(method)}: {'pass' if ok else 'FAIL'}" for method, ok in self.passes().items()
        )
        accuracy = ""
        if self.accuracy is not None:
            accuracy = "<p>Accuracy: " + "; ".join(
                f"{html.escape(model)}: train {acc['train']:.3f}, validation {acc['validation']:.3f}"
                for model, acc in self.accuracy.items()
            ) + "</p>"
        return (
            f"<h4>{titles.get(self.test, self.test)} ({len(self.classes)} images; similarity with the original maps, "
            f"mean &plusmn; std over images)</h4>{accuracy}<table><tr>{head}</tr>{''.join(body)}</table>"
            f"<p>Pass (|spearman_abs| averaged over images and steps &lt; {self.threshold:g}): {verdicts}</p>"
        )
