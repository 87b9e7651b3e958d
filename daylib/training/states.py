"""Per-epoch training states that cannot be left half written, and resuming from the newest good one.

After every epoch, :class:`EpochStates` writes ``states/epoch-NNNN.npz``: every model variable
(weights, BatchNormalization statistics, dropout seed states), every optimizer variable
(Adam's moments, the step count) and a small record (epoch, monitored value). It replaces
both ``keras.callbacks.BackupAndRestore`` and ``ModelCheckpoint(save_best_only=True)``: the
best epoch's weights are the state file of that epoch, kept while it is the best.

Why not Keras's own callbacks (read in Keras 3.8 and 3.15, the same code):

- ``BackupAndRestore`` writes ``latest.weights.h5`` in place, then its epoch to a separate
  JSON file, also in place. A kill inside either write leaves a truncated file under the
  real name, or new weights with the old epoch. ``double_checkpoint=True`` copies the previous
  pair to ``*.bkp`` first (with plain copies, not renames), and on resume falls back to it
  only on ``OSError``: a file that h5py opens but that lacks variables raises ``ValueError``
  ("expected 2 variables, but received 1") and is not caught, and a half-written JSON
  fails in ``json``. Either way every repeat of the call failed.
- ``ModelCheckpoint`` writes the best weights in place too, and after a fall-back it may hold
  the weights of an epoch the resumed run never kept.
- ``save_weights`` walks the model layer by layer into h5py: about 0.42 s per epoch for
  EfficientNet-Lite0 with Adam on a CPU, against about 0.09 s for the ``.npz`` here.

The rules here:

- every state is written to a temporary name and renamed (:mod:`daylib.training.atomic`);
  a file under its real name is complete;
- kept: the two newest states and the best state among all but the newest (so a fall-back
  past the newest still finds the best weights of the epochs it keeps): three files at most;
- on resume every candidate is read in full before anything is loaded: the zip's CRCs
  catch damaged bytes, the variable count and shapes catch a file from another model. A bad
  file is reported and deleted and the run goes on from the next newest (one epoch lost);
  with none left the phase starts again from its first epoch. The model is untouched until
  a state has been read whole.

Variables are matched by order, not by name: Keras numbers layer names per process, and a
resumed call builds its model afresh (the run's fingerprint guarantees the same model).

With several workers (``MultiWorkerMirroredStrategy``) every worker reads the variables (a
mirrored variable reads its local copy, no communication; reading them everywhere stays
correct for a variable that would need one), but only the chief writes and deletes files
(:func:`daylib.training.strategy.writes_files`); the others keep the same record of which
epochs are kept and read the chief's files when they load a state.

Example:
    >>> plan = plan_resume(run_dir / "head" / "states", model, monitor="val_loss")
    >>> model.fit(x, y, initial_epoch=plan.initial_epoch, epochs=5,
    ...           callbacks=[EpochStates(run_dir / "head" / "states", plan, monitor="val_loss")])
"""
from __future__ import annotations

import json
import math
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

import keras
import numpy as np
import tensorflow as tf

from daylib.training.atomic import atomic_path, remove_partial
from daylib.training.strategy import agree, writes_files

__all__ = ["State", "StateError", "ResumePlan", "EpochStates", "plan_resume", "read_state", "save_state",
           "best_epoch", "state_path", "load_model_state", "state_arrays"]


class StateError(ValueError):
    """A state file that cannot be used: damaged, cut short, or written for another model."""


@dataclass
class State:
    """One state file read in full: its epoch, monitored value and the variables' values."""

    path: Path
    epoch: int
    value: Optional[float]
    model: list[np.ndarray]
    optimizer: list[np.ndarray]


def state_path(folder: Union[str, Path], epoch: int) -> Path:
    """Where the state after ``epoch`` (0-based) lives.

    Example:
        >>> state_path("run/head/states", 3).name
        'epoch-0003.npz'
    """
    return Path(folder) / f"epoch-{epoch:04d}.npz"


def _optimizer_variables(model: keras.Model) -> list:
    optimizer = getattr(model, "optimizer", None)
    return list(optimizer.variables) if optimizer is not None and optimizer.built else []


def state_arrays(model: keras.Model, epoch: int, value: Optional[float]) -> dict[str, np.ndarray]:
    """The arrays of a state file: every model and optimizer variable's value, and the record.

    Example:
        >>> sorted(state_arrays(model, 0, 0.61))[-1]
        'record'
    """
    arrays = {f"model_{i:04d}": np.asarray(v.numpy()) for i, v in enumerate(model.variables)}
    optimizer = _optimizer_variables(model)
    arrays.update({f"optimizer_{i:04d}": np.asarray(v.numpy()) for i, v in enumerate(optimizer)})
    record = {"epoch": int(epoch), "value": value, "model": len(model.variables), "optimizer": len(optimizer)}
    arrays["record"] = np.array(json.dumps(record))
    return arrays


def _write(path: Union[str, Path], arrays: dict[str, np.ndarray]) -> None:
    with atomic_path(path) as tmp:
        np.savez(tmp, **arrays)


def save_state(path: Union[str, Path], model: keras.Model, epoch: int, value: Optional[float]) -> None:
    """Write the model's and optimizer's variables and ``(epoch, value)`` to ``path``, atomically.

    Example:
        >>> save_state(state_path(folder, 0), model, 0, 0.61)
    """
    _write(path, state_arrays(model, epoch, value))


def _record(path: Path) -> dict:
    """The small record of a state file (reads one zip member, not the arrays)."""
    try:
        with np.load(path) as stored:
            return json.loads(str(stored["record"]))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise StateError(f"cannot be read ({type(error).__name__}: {error})") from error


def read_state(path: Union[str, Path], model: keras.Model) -> State:
    """Read a state file in full and check it against ``model``; the model is not changed.

    Raises:
        StateError: the file is cut short or damaged (zip structure, CRC), or its variables do
            not match the model's in number or shape.

    Example:
        >>> state = read_state(state_path(folder, 3), model)
        >>> state.epoch
        3
    """
    path = Path(path)
    try:
        with np.load(path) as stored:
            record = json.loads(str(stored["record"]))
            values = [stored[f"model_{i:04d}"] for i in range(record["model"])]
            optimizer = [stored[f"optimizer_{i:04d}"] for i in range(record["optimizer"])]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise StateError(f"cannot be read ({type(error).__name__}: {error})") from error
    expected = [tuple(v.shape) for v in model.variables]
    if [tuple(v.shape) for v in values] != expected:
        raise StateError(f"holds {len(values)} variables that do not match the model's {len(expected)}")
    return State(path, int(record["epoch"]), record["value"], values, optimizer)


def best_epoch(values: dict[int, Optional[float]], mode: str) -> Optional[int]:
    """The epoch with the best value (``mode`` ``"min"`` or ``"max"``; the first one on ties), or ``None``.

    Epochs without a finite value (no validation data) are never best.

    Example:
        >>> best_epoch({0: 0.7, 1: 0.5, 2: 0.5}, "min")
        1
    """
    scored = [(epoch, value) for epoch, value in values.items() if value is not None and math.isfinite(value)]
    if not scored:
        return None
    sign = 1.0 if mode == "min" else -1.0
    return min(scored, key=lambda item: (sign * item[1], item[0]))[0]


@dataclass
class ResumePlan:
    """Where a phase goes on: the state to load (``None``: from the start) and the states kept.

    ``initial_epoch`` is the epoch to continue at (for ``fit``); ``kept`` maps the epoch of
    every state file still on disk to its monitored value; ``notes`` are the messages to show.
    """

    state: Optional[State]
    kept: dict[int, Optional[float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def initial_epoch(self) -> Optional[int]:
        return None if self.state is None else self.state.epoch + 1


def plan_resume(folder: Union[str, Path], model: keras.Model, *, tidy: bool = True) -> ResumePlan:
    """Find the newest state in ``folder`` that reads in full; delete damaged ones and leftovers.

    ``tidy=False`` deletes nothing (a worker that reads the chief's folder): a damaged file is
    skipped with its note.

    Example:
        >>> plan = plan_resume(run_dir / "head" / "states", model)
        >>> plan.initial_epoch          # None: nothing to resume
    """
    folder = Path(folder)
    if tidy:
        remove_partial(folder)
    files = sorted(folder.glob("epoch-*.npz"), reverse=True) if folder.is_dir() else []
    plan = ResumePlan(None)
    for path in files:
        try:
            if plan.state is None:
                plan.state = read_state(path, model)
                plan.kept[plan.state.epoch] = plan.state.value
            else:
                record = _record(path)
                plan.kept[int(record["epoch"])] = record["value"]
        except StateError as error:
            if not tidy:
                plan.notes.append(f"The saved state {path} is damaged or cut short: it {error}.")
                continue
            plan.notes.append(f"The saved state {path} is damaged or cut short: it {error}, so it was deleted.")
            path.unlink(missing_ok=True)
    return plan


def _assign(variables: list, values: list[np.ndarray]) -> None:
    for variable, value in zip(variables, values):
        variable.assign(value)


def load_model_state(model: keras.Model, state: State) -> None:
    """Put a state's model variables into ``model`` (not the optimizer's).

    Example:
        >>> load_model_state(model, read_state(state_path(folder, 3), model))
    """
    _assign(model.variables, state.model)


class EpochStates(keras.callbacks.Callback):
    """Save a state after every epoch, keep the newest and the best ones, restore the plan's at the start.

    Args:
        folder: the phase's ``states`` folder.
        plan: from :func:`plan_resume`; its state is loaded in ``on_train_begin`` (the optimizer
            is built first, as ``BackupAndRestore`` does, so its moments can be restored).
        monitor, mode: the value recorded with each state and how "best" is judged.
        hint: appended to the error when a state cannot be written (names the run folder).
        strategy: the ``tf.distribute`` strategy of the run: with several workers only the chief
            writes and deletes states (:func:`daylib.training.strategy.writes_files`).

    Example:
        >>> states = EpochStates(folder, plan_resume(folder, model), monitor="val_loss", mode="min")
    """

    def __init__(self, folder: Union[str, Path], plan: ResumePlan, *, monitor: str, mode: str, hint: str = "",
                 strategy: Optional[tf.distribute.Strategy] = None):
        super().__init__()
        self.folder = Path(folder)
        self.strategy = strategy
        self.writer = writes_files(strategy)
        self.plan = plan
        self.monitor = monitor
        self.mode = mode
        self.hint = hint
        self.kept = dict(plan.kept)
        self.current: Optional[int] = None  # the epoch whose weights the model holds

    def on_train_begin(self, logs=None):
        state = self.plan.state
        if state is None:
            return
        optimizer = self.model.optimizer
        if optimizer is not None and not optimizer.built:
            optimizer.build(self.model.trainable_variables)
        if len(state.optimizer) != len(_optimizer_variables(self.model)):
            raise StateError(
                f"The saved state {state.path} holds {len(state.optimizer)} optimizer variables, but this "
                f"model's optimizer has {len(_optimizer_variables(self.model))}: it was written by another "
                f"training setup. {self.hint}"
            )
        load_model_state(self.model, state)
        _assign(_optimizer_variables(self.model), state.optimizer)
        self.current = state.epoch
        self.plan.state = None  # free the arrays

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        value = float(value) if value is not None else None
        path = state_path(self.folder, epoch)
        arrays = state_arrays(self.model, epoch, value)  # on every worker
        if self.writer:
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
                _write(path, arrays)
            except OSError as error:
                raise OSError(f"Could not write the training state {path} ({error}). Free some disk space. "
                              f"{self.hint}") from error
        self.kept[epoch] = value
        self.current = epoch
        self._prune()

    def _prune(self) -> None:
        newest = sorted(self.kept)[-2:]
        older = {epoch: value for epoch, value in self.kept.items() if epoch != newest[-1]}
        keep = set(newest) | {best_epoch(older, self.mode), best_epoch(self.kept, self.mode)}
        for epoch in [epoch for epoch in self.kept if epoch not in keep]:
            if self.writer:
                state_path(self.folder, epoch).unlink(missing_ok=True)
            del self.kept[epoch]

    def restore_best(self) -> tuple[Optional[int], list[str]]:
        """Put the best kept epoch's weights into the model; return that epoch and any notes.

        Nothing is read when the model already holds the best epoch (the usual case when the
        last epoch was the best). A best state that cannot be read is deleted and the next
        best is used, with a note; ``None`` when no epoch has a monitored value. With several
        workers, every worker reads the chief's file and they check that they agree on the epoch.

        Raises:
            ValueError: a worker found another best epoch than the chief (it could not read
                the chief's state: the run folder is not on storage that every worker sees).

        Example:
            >>> best, notes = states.restore_best()
        """
        notes = []
        while (best := best_epoch(self.kept, self.mode)) is not None and best != self.current:
            try:
                load_model_state(self.model, read_state(state_path(self.folder, best), self.model))
                self.current = best
            except StateError as error:
                path = state_path(self.folder, best)
                notes.append(f"The best epoch's state {path} {error}; the next best epoch is used instead.")
                if self.writer:
                    path.unlink(missing_ok=True)
                del self.kept[best]
        agree(self.strategy, -1 if best is None else best, "best epoch",
              f"it could not read the chief's state files in {self.folder}. Put the run folder (run_dir=...) on "
              f"storage that every worker sees (a shared file system). {self.hint}")
        return best, notes
