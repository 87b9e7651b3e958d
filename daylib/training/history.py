"""One history for both training phases, so the fine-tuning notebook draws one curve.

Example:
    >>> history = TrainingHistory.from_logs([{"epoch": 0, "loss": 0.7}, {"epoch": 1, "loss": 0.5}])
    >>> history.history["loss"], history.epoch
    ([0.7, 0.5], [0, 1])
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Sequence

if TYPE_CHECKING:
    import keras

__all__ = ["TrainingHistory"]


@dataclass
class TrainingHistory:
    """Per-epoch logs of a training run, phases joined, with where fine-tuning began.

    Attributes:
        history: metric name -> one value per epoch (``loss``, ``val_loss``, ``accuracy``, ...),
            like ``keras.callbacks.History.history``.
        epoch: the (0-based, absolute) epoch index of each value; phase 2 continues phase 1.
        fine_tune_epoch: index of the first fine-tuning epoch, or ``None`` (no fine-tuning).
            It equals the number of phase-1 epochs that ran (fewer than asked if early stopping hit).
        best_epochs: phase name -> epoch whose weights the model kept at the end of that phase
            (the best validation epoch; the last epoch when there was no validation data).
        run_dir: folder with the run's logs and weights, when the run kept one.
        model: the trained model (useful when a factory built it).

    Example:
        >>> history = train_classifier(model, (x, y), (x_val, y_val), fine_tune_epochs=3, top_n=20)
        >>> history.fine_tune_epoch
        5
        >>> fig = history.plot()
    """

    history: dict[str, list[float]]
    epoch: list[int]
    fine_tune_epoch: Optional[int] = None
    best_epochs: dict[str, int] = field(default_factory=dict)
    run_dir: Optional[Path] = None
    model: Optional["keras.Model"] = field(default=None, repr=False, compare=False)

    @classmethod
    def from_logs(cls, logs: Sequence[dict], **kwargs) -> "TrainingHistory":
        """Build from per-epoch log dicts ``{"epoch": i, "loss": ..., ...}``.

        Example:
            >>> TrainingHistory.from_logs([{"epoch": 3, "loss": 0.1}]).epoch
            [3]
        """
        names = sorted({key for entry in logs for key in entry if key != "epoch"})
        history = {name: [float(entry[name]) for entry in logs if name in entry] for name in names}
        return cls(history=history, epoch=[int(entry["epoch"]) for entry in logs], **kwargs)

    @classmethod
    def from_keras(cls, history) -> "TrainingHistory":
        """Wrap a ``keras.callbacks.History`` (what ``model.fit`` returns).

        Example:
            >>> TrainingHistory.from_keras(model.fit(x, y, epochs=2)).epoch
            [0, 1]
        """
        return cls(history={k: [float(v) for v in values] for k, values in history.history.items()},
                   epoch=list(history.epoch), model=getattr(history, "model", None))

    @property
    def epochs(self) -> int:
        """How many epochs ran (both phases).

        Example:
            >>> history.epochs
            10
        """
        return len(self.epoch)

    @property
    def next_epoch(self) -> int:
        """The epoch index a continuation starts at (``initial_epoch`` for the next ``fit``).

        Example:
            >>> history.next_epoch == history.epoch[-1] + 1
            True
        """
        return self.epoch[-1] + 1 if self.epoch else 0

    def then(self, later: "TrainingHistory", *, fine_tune: bool = False) -> "TrainingHistory":
        """Join a later phase after this one; ``fine_tune=True`` marks where it starts.

        Raises:
            ValueError: the later history does not start right after this one.

        Example:
            >>> joined = head_history.then(fine_tune_history, fine_tune=True)
        """
        if later.epoch and later.epoch[0] != self.next_epoch:
            raise ValueError(
                f"The later phase starts at epoch {later.epoch[0]}, but this history ends before epoch "
                f"{self.next_epoch}; train it with initial_epoch={self.next_epoch}."
            )
        names = list(dict.fromkeys([*self.history, *later.history]))
        missing = [
            n for n in names
            if len(self.history.get(n, [])) != self.epochs or len(later.history.get(n, [])) != later.epochs
        ]
        if missing:
            raise ValueError(f"Both phases must log the same metrics; {missing} are missing in one of them.")
        start = later.epoch[0] if later.epoch else None
        return TrainingHistory(
            history={n: self.history[n] + later.history[n] for n in names},
            epoch=self.epoch + later.epoch,
            fine_tune_epoch=start if fine_tune else self.fine_tune_epoch,
            best_epochs={**self.best_epochs, **later.best_epochs},
            run_dir=later.run_dir or self.run_dir,
            model=later.model or self.model,
        )

    def plot(self, metrics: Optional[Sequence[str]] = None):
        """Curves of both phases in one figure, fine-tuning start marked (see ``daylib.viz.results``).

        Example:
            >>> fig = history.plot(["loss", "accuracy"])
        """
        from daylib.viz.results import plot_history

        return plot_history(self, metrics)
