"""Run folders: per-epoch logs, best-weight checkpoints, and resuming an interrupted run.

A run folder holds one folder per phase::

    run_dir/<phase>/run.json           fingerprint of the call that wrote it, status
    run_dir/<phase>/history.json       one log entry per finished epoch
    run_dir/<phase>/checkpoint.weights.h5   best validation epoch of the model being fit
    run_dir/<phase>/backup/            keras.callbacks.BackupAndRestore state (last finished epoch)
    run_dir/<phase>/model.weights.h5   the full model at the end of the phase
    run_dir/<phase>/done.json          the phase finished: its logs and best epoch

How resuming works. ``keras.callbacks.BackupAndRestore`` saves the weights, the optimizer
state and the epoch after every epoch, and a restarted ``fit`` continues from there. It
fits, with three gaps that this module fills:

- it knows one ``fit``; a two-phase run also needs to skip a phase that already finished
  (``done.json`` + ``model.weights.h5``);
- the logs of the epochs before the interruption are lost, and ``EarlyStopping`` /
  ``ModelCheckpoint`` forget their best value; here the logs are kept on disk and the two
  callbacks are seeded from them, so the resumed run stops and keeps the same best epoch;
- in Keras 3.15 it leaves its epoch on the model and nothing resets it, so the *next*
  ``fit`` of that model silently starts at the old epoch; :func:`fit_logged` resets it
  (:func:`daylib.models.compat.reset_initial_epoch`).

A backup is only trusted for the same call: ``run.json`` stores a fingerprint of the
settings, the data and the model's starting weights. A different call in the same folder
starts its phases afresh, and so does the same call after the run finished.

Example:
    >>> run = Run.open("runs/lite0", fingerprint("train_classifier", settings, model, data), ("head", "fine_tune"))
    >>> logs = fit_logged(run, "head", model, data, val, epochs=5)
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Union

import keras

from daylib import __version__, config
from daylib.models import compat
from daylib.models.digest import model_digest
from daylib.training.inputs import Inputs

__all__ = ["Run", "fingerprint", "fit_logged", "EpochLog", "ResumableEarlyStopping"]


def _write_json(path: Path, content) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(content, indent=1))
    os.replace(tmp, path)


def fingerprint(kind: str, settings: dict, model: keras.Model, *data: Optional[Inputs]) -> str:
    """Hash of what makes two training calls "the same": settings, data, architecture, start weights.

    The model part is :func:`daylib.models.digest.model_digest` with the ``trainable`` flags
    (layer types, which layers train, every weight; not layer names, which Keras numbers per
    process).

    Example:
        >>> fingerprint("train_head", {"epochs": 5}, model, as_inputs((x, y)))[:8]
        '3f2a9c1e'
    """
    h = hashlib.blake2b(digest_size=16)
    h.update(json.dumps({"kind": kind, "daylib": __version__, **settings}, sort_keys=True, default=str).encode())
    h.update(model_digest(model, trainable=True).encode())
    for inputs in data:
        h.update((inputs.digest() if inputs is not None else "none").encode())
    return h.hexdigest()


@dataclass
class Run:
    """The folder of one training call (see the module docstring for its layout).

    Each phase folder carries the fingerprint of the call that wrote it (``<phase>/run.json``),
    so ``train_head`` and a later ``fine_tune`` can share one ``run_dir`` without clearing each
    other's files. ``temporary`` runs live under ``config.CACHE_DIR/runs`` and are deleted when
    they finish.

    Example:
        >>> run = Run.open(None, "3f2a9c1e...", phases=("head",))
        >>> run.phase_dir("head").name
        'head'
    """

    directory: Path
    fingerprint: str
    temporary: bool
    phases: tuple[str, ...]

    @classmethod
    def open(cls, run_dir: Union[str, Path, None], fingerprint: str, phases: Sequence[str]) -> "Run":
        """Open (and create) a run folder; clear a phase folder left by another call or a finished run.

        ``run_dir=None`` picks a temporary folder named after the fingerprint, so an
        interrupted call resumes when it is repeated even without a ``run_dir``.

        Example:
            >>> Run.open(tmp_path, "abc", phases=("head", "fine_tune")).directory == tmp_path
            True
        """
        temporary = run_dir is None
        directory = config.cache_dir("runs") / fingerprint[:16] if temporary else Path(run_dir)
        for phase in phases:
            folder = directory / phase
            manifest = folder / "run.json"
            stored = json.loads(manifest.read_text()) if manifest.exists() else {}
            if stored.get("fingerprint") != fingerprint or stored.get("status") == "finished":
                shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True, exist_ok=True)
            _write_json(manifest, {"fingerprint": fingerprint, "status": "running"})
        return cls(directory, fingerprint, temporary, tuple(phases))

    def phase_dir(self, phase: str) -> Path:
        """The folder of one phase of this run.

        Example:
            >>> (run.phase_dir("fine_tune") / "model.weights.h5").exists()
        """
        if phase not in self.phases:
            raise ValueError(f"Phase {phase!r} is not part of this run; its phases are {self.phases}.")
        return self.directory / phase

    def done(self, phase: str) -> Optional[dict]:
        """The record of a finished phase (``logs``, ``best_epoch``), or ``None``.

        Example:
            >>> run.done("head")["best_epoch"]
        """
        path = self.phase_dir(phase) / "done.json"
        return json.loads(path.read_text()) if path.exists() else None

    def mark_done(self, phase: str, model: keras.Model, logs: list[dict], best_epoch: Optional[int]) -> None:
        """Save the full model's weights and the phase's logs: a restart will skip this phase.

        The last phase of a temporary run saves nothing: :meth:`finish` deletes the folder next,
        so nothing could read the files (saving a whole base costs about 0.4 s on a CPU).

        Example:
            >>> run.mark_done("head", model, logs, best_epoch=3)
        """
        if self.temporary and phase == self.phases[-1]:
            return
        folder = self.phase_dir(phase)
        model.save_weights(folder / "model.weights.h5")
        _write_json(folder / "done.json", {"logs": logs, "best_epoch": best_epoch})

    def finish(self) -> None:
        """Mark the whole call finished (a repeat trains afresh); delete the folder if temporary.

        Example:
            >>> run.finish()
        """
        if self.temporary:
            shutil.rmtree(self.directory, ignore_errors=True)
            return
        for phase in self.phases:
            manifest = self.phase_dir(phase) / "run.json"
            _write_json(manifest, {"fingerprint": self.fingerprint, "status": "finished"})


class EpochLog(keras.callbacks.Callback):
    """Append each finished epoch's logs to a JSON file (and keep them in ``self.logs``).

    Example:
        >>> log = EpochLog("history.json", previous=[])
    """

    def __init__(self, path: Union[str, Path], previous: Sequence[dict] = ()):
        super().__init__()
        self.path = Path(path)
        self.logs = list(previous)

    def on_epoch_end(self, epoch, logs=None):
        self.logs.append({"epoch": int(epoch), **{k: float(v) for k, v in (logs or {}).items()}})
        _write_json(self.path, self.logs)


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """``EarlyStopping`` that, on a resumed run, first replays the monitored values logged before.

    Without the replay, a resumed run would forget its best value and its patience count and
    could train several epochs longer than the uninterrupted run. Best weights are restored
    from the checkpoint file instead (``restore_best_weights`` stays off): that also works
    across the interruption.

    Example:
        >>> stop = ResumableEarlyStopping(past=[(0, 0.7), (1, 0.6)], monitor="val_loss", mode="min", patience=3)
    """

    def __init__(self, past: Sequence[tuple[int, float]] = (), **kwargs):
        super().__init__(**kwargs)
        self.past = list(past)

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        compat.replay_early_stopping(self, self.past)


def _mode(monitor: str) -> str:
    return "min" if "loss" in monitor else "max"


def _resume_point(folder: Path) -> tuple[Optional[int], list[dict]]:
    metadata = folder / "backup" / "training_metadata.json"
    history = folder / "history.json"
    if not metadata.exists():
        for name in ("history.json", "checkpoint.weights.h5"):
            (folder / name).unlink(missing_ok=True)
        return None, []
    epoch = int(json.loads(metadata.read_text())["epoch"])
    logs = json.loads(history.read_text()) if history.exists() else []
    return epoch, [entry for entry in logs if entry["epoch"] < epoch]


def _best_epoch(logs: list[dict], monitor: str) -> Optional[int]:
    """The first epoch with the best monitored value; the last epoch when nothing was monitored."""
    values = [(entry["epoch"], entry[monitor]) for entry in logs if monitor in entry]
    if not values:
        return logs[-1]["epoch"] if logs else None
    pick = min if _mode(monitor) == "min" else max
    return pick(values, key=lambda item: item[1])[0]


def fit_logged(
    run: Run,
    phase: str,
    model: keras.Model,
    train: Inputs,
    validation: Optional[Inputs],
    *,
    epochs: int,
    initial_epoch: int = 0,
    batch_size: int = 32,
    class_weight: Optional[dict] = None,
    monitor: str = "val_loss",
    patience: Optional[int] = 3,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    verbose: int = 1,
) -> tuple[list[dict], Optional[int]]:
    """``model.fit`` for one phase with logs, best-weight checkpoint, early stopping and resume.

    Runs epochs ``initial_epoch .. epochs - 1`` (or continues an interrupted run of this phase),
    then loads the weights of the best validation epoch (``monitor``). Returns all the phase's
    per-epoch logs and the best epoch. Without validation data there is no early stopping and
    the last epoch's weights stay. The caller's ``callbacks`` run after the built-in ones.

    Example:
        >>> logs, best = fit_logged(run, "head", model, train, val, epochs=5)
    """
    folder = run.phase_dir(phase)
    resumed_at, previous = _resume_point(folder)
    if resumed_at is not None:
        print(f"Resuming phase {phase!r} at epoch {resumed_at + 1} from {folder} (same call, interrupted before).")
    epoch_log = EpochLog(folder / "history.json", previous)
    built_in: list[keras.callbacks.Callback] = [epoch_log]
    checkpoint = folder / "checkpoint.weights.h5"
    if validation is not None:
        past = [(entry["epoch"], entry[monitor]) for entry in previous if monitor in entry]
        pick = min if _mode(monitor) == "min" else max
        threshold = pick(value for _, value in past) if past else None
        built_in.append(keras.callbacks.ModelCheckpoint(
            checkpoint, monitor=monitor, mode=_mode(monitor), save_best_only=True, save_weights_only=True,
            initial_value_threshold=threshold,
        ))
        if patience is not None:
            built_in.append(ResumableEarlyStopping(past, monitor=monitor, mode=_mode(monitor), patience=patience))
    built_in.append(keras.callbacks.BackupAndRestore(folder / "backup"))
    try:
        model.fit(
            **train.fit_kwargs(batch_size),
            validation_data=validation.validation() if validation is not None else None,
            epochs=epochs,
            initial_epoch=initial_epoch,
            class_weight=class_weight,
            callbacks=built_in + list(callbacks),
            verbose=verbose,
        )
    finally:
        compat.reset_initial_epoch(model)
    logs = epoch_log.logs
    best = _best_epoch(logs, monitor)
    if validation is not None and checkpoint.exists():
        model.load_weights(checkpoint)
    return logs, best
