"""Run folders: per-epoch logs, training states, end-of-phase weights, and resuming an interrupted run.

A run folder holds one folder per phase::

    run_dir/<phase>/run.json           fingerprint of the call that wrote it, status
    run_dir/<phase>/history.json       one log entry per finished epoch
    run_dir/<phase>/states/            the newest and the best per-epoch states (daylib.training.states)
    run_dir/<phase>/model.weights.h5   the full model at the end of the phase (Keras format)
    run_dir/<phase>/done.json          the phase finished: its logs, best epoch, and the weights file's
                                       size and hash

Every file is written to a temporary name and renamed (:mod:`daylib.training.atomic`), so a
kill, a restarted kernel or Ctrl-C inside a save never leaves a half-written file; what is
read back is checked first (states: :mod:`daylib.training.states`; the end-of-phase weights:
size and hash), and a damaged file is reported, deleted, and the run falls back to the last
good state. With ``run_dir=None`` the folder is ``<cache>/runs/<hash>``; every message names
it and the fix (:attr:`Run.hint`).

How resuming works. After every epoch the model's and optimizer's variables are saved
(:class:`~daylib.training.states.EpochStates`, in place of Keras's ``BackupAndRestore`` and
``ModelCheckpoint``; see there why). A repeated call reads the newest good state before
``fit`` and continues at the next epoch (``initial_epoch``), and:

- a two-phase run skips a phase that already finished (``done.json`` + ``model.weights.h5``);
- the logs of the epochs before the interruption are kept on disk, and ``EarlyStopping`` is
  seeded from them, so the resumed run stops at the same epoch and keeps the same best epoch;
- a run whose early stopping had already fired (the kill came after the last epoch) trains no
  further epoch.

A state is only trusted for the same call: ``run.json`` stores a fingerprint of the
settings, the data and the model's starting weights. A different call in the same folder
starts its phases afresh, and so does the same call after the run finished.

Several workers (``MultiWorkerMirroredStrategy``): only the chief writes, deletes and prints
(:func:`daylib.training.strategy.writes_files`); every worker runs the same call, so the
workers first check that their fingerprints agree, then the others follow the chief's
decisions (the epoch to resume from, a finished phase, the best epoch) and read its files.
The run folder must therefore be on storage that every worker sees.

Example:
    >>> run = Run.open("runs/lite0", fingerprint("train_classifier", settings, model, data), ("head", "fine_tune"))
    >>> logs = fit_logged(run, "head", model, data, val, epochs=5)
"""
from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Union

import keras
import tensorflow as tf

from daylib import __version__, config
from daylib.models import compat
from daylib.models.digest import model_digest
from daylib.training.atomic import atomic_path, read_json, write_json
from daylib.training.inputs import Inputs, stream_errors
from daylib.training.states import EpochStates
from daylib.training.resume import resume_phase
from daylib.training.strategy import agree, chief_value, fit_context, writes_files

__all__ = ["Run", "fingerprint", "fit_logged", "EpochLog", "ResumableEarlyStopping"]


def _file_record(path: Path) -> dict:
    """Size and hash of a file, to recognise it when it is read back."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            h.update(block)
    return {"bytes": path.stat().st_size, "blake2b": h.hexdigest()}


def _is_intact(path: Path, record) -> bool:
    if not isinstance(record, dict) or not path.is_file() or path.stat().st_size != record.get("bytes"):
        return False
    return _file_record(path) == record


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
    they finish. ``strategy``: the run's ``tf.distribute`` strategy; with several workers only
    the chief (``writer``) touches the folder.

    Example:
        >>> run = Run.open(None, "3f2a9c1e...", phases=("head",))
        >>> run.phase_dir("head").name
        'head'
    """

    directory: Path
    fingerprint: str
    temporary: bool
    phases: tuple[str, ...]
    strategy: Optional[tf.distribute.Strategy] = None

    @property
    def writer(self) -> bool:
        """Whether this process writes the run folder (always, except on a worker that is not the chief).

        Example:
            >>> Run.open(tmp_path, "abc", ("head",)).writer
            True
        """
        return writes_files(self.strategy)

    @classmethod
    def open(cls, run_dir: Union[str, Path, None], fingerprint: str, phases: Sequence[str],
             strategy: Optional[tf.distribute.Strategy] = None) -> "Run":
        """Open (and create) a run folder; clear a phase folder left by another call or a finished run.

        ``run_dir=None`` picks a temporary folder named after the fingerprint, so an
        interrupted call resumes when it is repeated even without a ``run_dir``. An unreadable
        ``run.json`` counts as another call's. With several workers, only the chief creates or
        clears anything, and every worker must open the run with the same fingerprint.

        Raises:
            ValueError: a worker's fingerprint differs from the chief's: it was given other
                data, settings or starting weights.

        Example:
            >>> Run.open(tmp_path, "abc", phases=("head", "fine_tune")).directory == tmp_path
            True
        """
        temporary = run_dir is None
        directory = config.CACHE_DIR / "runs" / fingerprint[:16] if temporary else Path(run_dir)
        run = cls(directory, fingerprint, temporary, tuple(phases), strategy)
        if run.writer:
            for phase in phases:
                stored = read_json(directory / phase / "run.json") or {}
                if stored.get("fingerprint") != fingerprint or stored.get("status") == "finished":
                    run._start_afresh(phase)
        agree(strategy, int(hashlib.blake2b(fingerprint.encode(), digest_size=6).hexdigest(), 16),
              "training call (a hash of its settings, data and starting weights)",
              "every worker must make the same call on the same data: load the same files in the same order, with "
              "the same seed, and build the model with the same factory.")
        return run

    def _start_afresh(self, phase: str) -> None:
        folder = self.directory / phase
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True, exist_ok=True)
        write_json(folder / "run.json", {"fingerprint": self.fingerprint, "status": "running"})

    @property
    def hint(self) -> str:
        """Where this run's files are and how to start afresh: the last sentence of every run message.

        Example:
            >>> Run.open(None, "abc", ("head",)).hint
            "This call's run folder is .../runs/abc (in the cache, because run_dir=None): ..."
        """
        if self.temporary:
            return (f"This call's run folder is {self.directory} (in the cache, because run_dir=None): delete it "
                    "to start the call afresh, or pass run_dir='runs/<name>' to keep the run where you can see it.")
        return f"The run folder is {self.directory}: delete it to start the call afresh."

    def phase_dir(self, phase: str) -> Path:
        """The folder of one phase of this run.

        Example:
            >>> (run.phase_dir("fine_tune") / "model.weights.h5").exists()
        """
        if phase not in self.phases:
            raise ValueError(f"Phase {phase!r} is not part of this run; its phases are {self.phases}.")
        return self.directory / phase

    def done(self, phase: str) -> Optional[dict]:
        """The record of a finished phase (``logs``, ``best_epoch``, ``weights``), or ``None``.

        Example:
            >>> run.done("head")["best_epoch"]
        """
        return read_json(self.phase_dir(phase) / "done.json")

    def load_finished(self, phase: str, model: keras.Model) -> Optional[dict]:
        """Load a finished phase's end weights into ``model`` and return its record; ``None`` if not finished.

        The weights file is checked against the size and hash in ``done.json`` before anything
        is loaded. A missing, damaged or unreadable pair is reported; the phase and the phases
        after it (trained from it) start afresh, and the model keeps its starting weights.

        Example:
            >>> record = run.load_finished("head", model)
        """
        folder = self.phase_dir(phase)
        weights = folder / "model.weights.h5"

        def intact_record() -> Optional[dict]:
            record = self.done(phase)
            return record if record is not None and _is_intact(weights, record.get("weights")) else None

        record = intact_record() if self.writer else None
        if self.writer and (folder / "done.json").exists() and record is None:
            print(f"Phase {phase!r} had finished, but its saved end weights {weights} (or done.json) are damaged "
                  f"or missing, so the phase is trained again. {self.hint}")
            for later in self.phases[self.phases.index(phase):]:
                self._start_afresh(later)
        if not chief_value(self.strategy, float(record is not None)):
            return None
        record = record if self.writer else intact_record()  # the others read after the chief has decided
        if record is None:
            raise ValueError(f"The chief finished phase {phase!r}, but this worker cannot read its end weights "
                             f"{weights}: put the run folder (run_dir=...) on storage that every worker sees (a "
                             f"shared file system). {self.hint}")
        model.load_weights(weights)
        return record

    def mark_done(self, phase: str, model: keras.Model, logs: list[dict], best_epoch: Optional[int]) -> None:
        """Save the full model's weights and the phase's logs: a restart will skip this phase.

        The weights go to ``model.weights.h5`` (Keras format, atomically), then ``done.json``
        records them with their size and hash, then the per-epoch states are deleted. The last
        phase of a temporary run saves nothing: :meth:`finish` deletes the folder next, so
        nothing could read the files (saving a whole base costs about 0.4 s on a CPU).

        Example:
            >>> run.mark_done("head", model, logs, best_epoch=3)
        """
        if (self.temporary and phase == self.phases[-1]) or not self.writer:
            return
        folder = self.phase_dir(phase)
        weights = folder / "model.weights.h5"
        with atomic_path(weights) as tmp:
            model.save_weights(tmp)
        write_json(folder / "done.json", {"logs": logs, "best_epoch": best_epoch, "weights": _file_record(weights)})
        shutil.rmtree(folder / "states", ignore_errors=True)

    def finish(self) -> None:
        """Mark the whole call finished (a repeat trains afresh); delete the folder if temporary.

        Example:
            >>> run.finish()
        """
        if not self.writer:
            return
        if self.temporary:
            shutil.rmtree(self.directory, ignore_errors=True)
            return
        for phase in self.phases:
            write_json(self.phase_dir(phase) / "run.json", {"fingerprint": self.fingerprint, "status": "finished"})


class EpochLog(keras.callbacks.Callback):
    """Append each finished epoch's logs to a JSON file (and keep them in ``self.logs``).

    An epoch without a loss (the data yielded no batch) is not logged. ``write=False`` (a
    worker that is not the chief) keeps the logs in memory only.

    Example:
        >>> log = EpochLog("history.json", previous=[])
    """

    def __init__(self, path: Union[str, Path], previous: Sequence[dict] = (), write: bool = True):
        super().__init__()
        self.path = Path(path)
        self.logs = list(previous)
        self.write = write

    def on_epoch_end(self, epoch, logs=None):
        if "loss" not in (logs or {}):
            return
        self.logs.append({"epoch": int(epoch), **{k: float(v) for k, v in logs.items()}})
        if self.write:
            write_json(self.path, self.logs)


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """``EarlyStopping`` that, on a resumed run, first replays the monitored values logged before.

    Without the replay, a resumed run would forget its best value and its patience count and
    could train several epochs longer than the uninterrupted run. Best weights are restored
    from the kept states instead (``restore_best_weights`` stays off): that also works
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

    def fired_before(self) -> bool:
        """Whether the replayed epochs had used up the patience: the interrupted run had stopped already.

        Example:
            >>> ResumableEarlyStopping([(0, 0.5), (1, 0.6), (2, 0.7)], mode="min", patience=2).fired_before()
            True
        """
        self.on_train_begin()
        return bool(self.past) and self.past[-1][0] > 0 and self.wait >= self.patience


def _mode(monitor: str) -> str:
    return "min" if "loss" in monitor else "max"


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
    """``model.fit`` for one phase with logs, per-epoch states, best epoch, early stopping and resume.

    Runs epochs ``initial_epoch .. epochs - 1`` (or continues an interrupted run of this phase
    from its newest good state), then loads the weights of the best validation epoch
    (``monitor``). Returns all the phase's per-epoch logs and the best epoch. Without
    validation data there is no early stopping and the last epoch's weights stay. The
    caller's ``callbacks`` run after the built-in ones.

    Raises:
        ValueError: the training data yielded no batch (an empty ``tf.data.Dataset``), or a
            batch broke a rule of :mod:`daylib.training.inputs` (checked in the stream).

    Example:
        >>> logs, best = fit_logged(run, "head", model, train, val, epochs=5)
    """
    folder = run.phase_dir(phase)
    plan, previous = resume_phase(run, phase, model, initial_epoch, epochs)
    start = plan.initial_epoch if plan.initial_epoch is not None else initial_epoch
    epoch_log = EpochLog(folder / "history.json", previous, write=run.writer)
    states = EpochStates(folder / "states", plan, monitor=monitor, mode=_mode(monitor), hint=run.hint,
                         strategy=run.strategy)
    built_in: list[keras.callbacks.Callback] = [epoch_log, states]
    if validation is not None and patience is not None:
        past = [(entry["epoch"], entry[monitor]) for entry in previous if monitor in entry]
        stop = ResumableEarlyStopping(past, monitor=monitor, mode=_mode(monitor), patience=patience)
        built_in.append(stop)
        if stop.fired_before():
            if run.writer:
                print(f"Early stopping had ended phase {phase!r} after epoch {start} already: no further epoch is "
                      "trained.")
            epochs = start
    try:
        with stream_errors(), fit_context(model):
            model.fit(
                **train.fit_kwargs(batch_size),
                validation_data=validation.validation() if validation is not None else None,
                epochs=max(epochs, start),
                initial_epoch=start,
                class_weight=class_weight,
                callbacks=built_in + list(callbacks),
                verbose=verbose,
            )
    finally:
        compat.reset_initial_epoch(model)  # a caller's own BackupAndRestore leaves its epoch on the model
    logs = epoch_log.logs
    if epochs > start and not [entry for entry in logs if entry["epoch"] >= start]:
        raise ValueError(
            "The training data yielded no batch, so nothing was trained: the tf.data.Dataset is empty (a filter "
            "that keeps nothing? a folder without images?). Check it with len(list(dataset.take(1)))."
        )
    best = None
    if validation is not None:
        best, notes = states.restore_best()
        if notes and run.writer:
            print(f"{' '.join(notes)} {run.hint}")
    if best is None:
        best = logs[-1]["epoch"] if logs else None
    return logs, best
