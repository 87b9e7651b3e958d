"""Run an experiment under several seeds and report the spread: how much of a result is luck.

A single training run's AUC moves with the seed (the initial head, the shuffling, the
augmentation); a difference between two recipes smaller than that spread says nothing.
:func:`repeat` seeds everything (:func:`daylib.config.seed_everything`) before each run and
collects the numbers; :meth:`Repeated.difference` pairs two recipes by seed.

Example:
    >>> from daylib import config
    >>> def experiment(seed):
    ...     model = train(seed)                     # your training run
    ...     return {"auc": auc_of(model), "accuracy": accuracy_of(model)}
    >>> runs = repeat(experiment, seeds=config.pick(quick=(0,), full=(0, 1, 2)))
    >>> print(runs)                                 # auc 0.813 +- 0.021 (3 seeds: 0.790, 0.820, 0.830)
    >>> runs["auc"].mean
"""
from __future__ import annotations

import html
import math
import numbers
import statistics
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping, Optional, Sequence, Union

import numpy as np

from daylib import config
from daylib.arguments import count, names as name_list

__all__ = ["Spread", "Repeated", "repeat"]

Result = Union[float, Mapping[str, float]]


def _number(x: float) -> str:
    return f"{x:.3f}" if x == 0 or 0.001 <= abs(x) < 1000 else f"{x:.3g}"


@dataclass(frozen=True)
class Spread:
    """One quantity over the seeds.

    Attributes:
        name: the quantity ("auc").
        seeds: the seeds, in the order they ran.
        values: its value under each seed, in the same order.
        mean, min, max: of the values.
        std: the sample standard deviation (ddof=1); ``None`` with a single seed, which has no spread.

    Mean and standard deviation come from :mod:`statistics` (exact sums), so equal values have
    a spread of exactly 0.

    Example:
        >>> spread = Spread.of("auc", (0, 1, 2), (0.79, 0.82, 0.83))
        >>> print(spread)
        auc 0.813 +- 0.021 (3 seeds: 0.790, 0.820, 0.830)
    """

    name: str
    seeds: tuple[int, ...]
    values: tuple[float, ...]
    mean: float
    std: Optional[float]
    min: float
    max: float

    @classmethod
    def of(cls, name: str, seeds: Sequence[int], values: Sequence[float]) -> "Spread":
        """The spread of ``values`` (one per seed).

        Example:
            >>> Spread.of("loss", (0, 1), (0.5, 0.7)).std
            0.14142135623730948
        """
        listed = [float(value) for value in values]
        std = statistics.stdev(listed) if len(listed) > 1 else None
        return cls(name=name, seeds=tuple(seeds), values=tuple(listed), mean=statistics.mean(listed), std=std,
                   min=min(listed), max=max(listed))

    def __str__(self) -> str:
        shown = ", ".join(_number(v) for v in self.values)
        if self.std is None:
            return f"{self.name} {_number(self.mean)} (1 seed: {shown}; no spread from one seed)"
        return f"{self.name} {_number(self.mean)} +- {_number(self.std)} ({len(self.values)} seeds: {shown})"


@dataclass(frozen=True)
class Repeated:
    """The quantities an experiment returned under each seed.

    Attributes:
        seeds: the seeds, in the order they ran.
        quantities: name -> :class:`Spread`, in the order the experiment returned them.
        title: what the numbers are, e.g. ``"fine-tuned - frozen, paired by seed"``; "" for plain runs.

    Example:
        >>> runs = repeat(lambda seed: {"auc": 0.8 + seed / 100}, seeds=(0, 1, 2), progress=False)
        >>> runs["auc"].mean, runs.names
        (0.81, ('auc',))
    """

    seeds: tuple[int, ...]
    quantities: Mapping[str, Spread]
    title: str = ""

    @property
    def names(self) -> tuple[str, ...]:
        """The quantities' names.

        Example:
            >>> repeat(lambda seed: {"auc": 0.8, "loss": 0.3}, seeds=(0,), progress=False).names
            ('auc', 'loss')
        """
        return tuple(self.quantities)

    def __getitem__(self, name: str) -> Spread:
        if name not in self.quantities:
            raise KeyError(f"No quantity {name!r}; this experiment returned {', '.join(map(repr, self.quantities))}.")
        return self.quantities[name]

    def difference(self, other: "Repeated", names: Sequence[str] = ("A", "B")) -> "Repeated":
        """Each quantity of ``self`` minus ``other``, paired by seed, with the spread of the differences.

        Pairing by seed removes what the seed does to both (the same data order, the same
        augmentation), so the spread of the differences is usually smaller than either's.

        Raises:
            ValueError: ``other`` is not a :class:`Repeated`, ran other seeds, or returned
                other quantities.

        Example:
            >>> tuned = repeat(lambda seed: {"auc": 0.85 + seed / 100}, seeds=(0, 1), progress=False)
            >>> frozen = repeat(lambda seed: {"auc": 0.80 + seed / 200}, seeds=(0, 1), progress=False)
            >>> print(tuned.difference(frozen, names=("fine-tuned", "frozen")))
            fine-tuned - frozen, paired by seed:
              auc 0.052 +- 0.004 (2 seeds: 0.050, 0.055)
        """
        if not isinstance(other, Repeated):
            raise ValueError(f"other must be the result of repeat(...), got {type(other).__name__}.")
        first, second = name_list(names, "names", expected=2, what="experiments (self and other)")
        if set(self.seeds) != set(other.seeds):
            raise ValueError(
                f"The two experiments ran different seeds ({list(self.seeds)} and {list(other.seeds)}): a paired "
                "difference needs the same seeds for both. Run both with the same seeds=..."
            )
        if set(self.names) != set(other.names):
            raise ValueError(
                f"The two experiments returned different quantities ({list(self.names)} and {list(other.names)}): "
                "return the same names from both."
            )
        quantities = {}
        for name in self.names:
            theirs = dict(zip(other[name].seeds, other[name].values))
            differences = [value - theirs[seed] for seed, value in zip(self.seeds, self[name].values)]
            quantities[name] = Spread.of(name, self.seeds, differences)
        return Repeated(seeds=self.seeds, quantities=quantities, title=f"{first} - {second}, paired by seed")

    def __str__(self) -> str:
        lines = [str(spread) for spread in self.quantities.values()]
        if self.title:
            return "\n".join([f"{self.title}:"] + [f"  {line}" for line in lines])
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        seeds = "".join(f"<th>seed {seed}</th>" for seed in self.seeds)
        rows = []
        for spread in self.quantities.values():
            std = "" if spread.std is None else _number(spread.std)
            cells = "".join(f"<td>{_number(v)}</td>" for v in spread.values)
            rows.append(f"<tr><th>{html.escape(spread.name)}</th><td>{_number(spread.mean)}</td><td>{std}</td>"
                        f"<td>{_number(spread.min)}</td><td>{_number(spread.max)}</td>{cells}</tr>")
        caption = f"<caption>{html.escape(self.title)}</caption>" if self.title else ""
        return (f"<table>{caption}<thead><tr><th></th><th>mean</th><th>std</th><th>min</th><th>max</th>{seeds}</tr>"
                f"</thead><tbody>{''.join(rows)}</tbody></table>")


def _seeds(seeds: Iterable[int]) -> tuple[int, ...]:
    if isinstance(seeds, numbers.Number) or isinstance(seeds, (str, bytes)):
        raise ValueError(
            f"seeds={seeds!r} is one value, not a list of seeds: pass the seeds themselves, e.g. seeds=(0, 1, 2) or "
            f"seeds=range(3), or seeds=({seeds!r},) for that one seed."
        )
    try:
        listed = list(seeds)
    except TypeError:
        raise ValueError(
            f"seeds must be a list of whole numbers, e.g. seeds=(0, 1, 2); got {type(seeds).__name__}."
        ) from None
    if not listed:
        raise ValueError("seeds is empty: pass at least one seed, e.g. seeds=config.pick(quick=(0,), full=(0, 1, 2)).")
    checked = tuple(count(seed, f"seeds[{i}]", minimum=0, example=0) for i, seed in enumerate(listed))
    repeated = sorted({seed for seed in checked if checked.count(seed) > 1})
    if repeated:
        raise ValueError(f"seeds repeats {repeated}: the same seed gives the same run twice. Pass distinct seeds.")
    return checked


def _result(value: Result, seed: int, name: str) -> dict[str, float]:
    returned = value if isinstance(value, Mapping) else {name: value}
    if not returned:
        raise ValueError(
            f"experiment({seed}) returned an empty dict: return a number or a dict of numbers, e.g. {{'auc': 0.81}}."
        )
    checked = {}
    for key, item in returned.items():
        if not isinstance(key, str):
            raise ValueError(
                f"experiment({seed}) returned the key {key!r}: name each quantity with a string, e.g. 'auc'."
            )
        if hasattr(item, "__array__") and np.shape(item) == ():
            item = np.asarray(item).item()
        if isinstance(item, bool) or not isinstance(item, numbers.Real):
            raise ValueError(
                f"experiment({seed}) returned {item!r:.60} ({type(item).__name__}) for {key!r}: an experiment must "
                "return a number or a dict of numbers, e.g. {'auc': 0.81}."
            )
        if not math.isfinite(item):
            raise ValueError(
                f"experiment({seed}) returned {item} for {key!r}: a diverged run? Fix the run (a lower learning "
                "rate), or leave that quantity out."
            )
        checked[key] = float(item)
    return checked


def repeat(
    experiment: Callable[[int], Result],
    seeds: Iterable[int] = (0, 1, 2),
    *,
    progress: bool = True,
    name: Optional[str] = None,
) -> Repeated:
    """Run ``experiment(seed)`` for each seed, after ``daylib.config.seed_everything(seed)``, and collect the spread.

    The experiment returns a number or a dict of numbers (``{"auc": 0.81, "accuracy": 0.76}``),
    the same names for every seed. Each quantity gets its mean, standard deviation
    (ddof=1; none from a single seed), min, max and the values per seed (see
    :class:`Spread`). In lessons the seeds follow quick mode:
    ``seeds=config.pick(quick=(0,), full=(0, 1, 2))``.

    Args:
        experiment: ``f(seed) -> number | dict[str, number]``; it should build and train
            everything it needs inside, so each seed starts from scratch.
        seeds: distinct whole numbers of at least 0 (not a count: ``range(3)`` for three).
        progress: print one line per finished seed, with its numbers and time.
        name: the quantity's name when the experiment returns a single number (default: the
            function's name, or ``"value"`` for a lambda).

    Raises:
        ValueError: seeds that are not distinct whole numbers (or one number instead of a
            list), or an experiment that returns something other than finite numbers, or
            other names under another seed.

    Example:
        >>> from daylib import config
        >>> runs = repeat(lambda seed: 0.80 + seed / 100, seeds=config.pick(quick=(0,), full=(0, 1, 2)), name="auc")
        >>> print(repeat(lambda seed: 0.80 + seed / 100, seeds=(0, 1, 2), progress=False, name="auc"))
        auc 0.810 +- 0.010 (3 seeds: 0.800, 0.810, 0.820)
    """
    if not callable(experiment):
        raise ValueError(
            f"experiment must be a function of the seed, f(seed) -> number or dict; got {type(experiment).__name__}."
        )
    checked_seeds = _seeds(seeds)
    function_name = getattr(experiment, "__name__", "value")
    label = str(name) if name is not None else ("value" if function_name == "<lambda>" else function_name)
    runs: list[dict[str, float]] = []
    for i, seed in enumerate(checked_seeds):
        config.seed_everything(seed)
        start = time.perf_counter()
        result = _result(experiment(seed), seed, label)
        if runs and set(result) != set(runs[0]):
            raise ValueError(
                f"experiment({seed}) returned {sorted(result)} but experiment({checked_seeds[0]}) returned "
                f"{sorted(runs[0])}: return the same quantities for every seed."
            )
        runs.append(result)
        if progress:
            shown = ", ".join(f"{key} {_number(value)}" for key, value in result.items())
            print(f"seed {seed} ({i + 1}/{len(checked_seeds)}): {shown} ({time.perf_counter() - start:.1f} s)")
    quantities = {key: Spread.of(key, checked_seeds, [run[key] for run in runs]) for key in runs[0]}
    return Repeated(seeds=checked_seeds, quantities=quantities)
