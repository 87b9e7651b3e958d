"""Resuming an interrupted phase: which saved state to continue from, and which epoch logs to keep.

The rules are described in :mod:`daylib.training.runs` ("How resuming works"); this module
applies them to one phase of a :class:`~daylib.training.runs.Run`.

Example:
    >>> from daylib.training.resume import resume_phase
    >>> plan, kept = resume_phase(run, "head", model, initial_epoch=0, epochs=5)
"""
from __future__ import annotations

import shutil
from typing import TYPE_CHECKING, Sequence

import keras

from daylib.training.atomic import read_json, remove_partial
from daylib.training.states import ResumePlan, plan_resume
from daylib.training.strategy import chief_value

if TYPE_CHECKING:
    from daylib.training.runs import Run

__all__ = ["resume_phase"]


def _epochs(numbers: Sequence[int]) -> str:
    shown = ", ".join(str(n + 1) for n in numbers)
    return f"epoch {shown}" if len(numbers) == 1 else f"epochs {shown}"


def resume_phase(run: "Run", phase: str, model: keras.Model, initial_epoch: int,
                 epochs: int) -> tuple[ResumePlan, list[dict]]:
    """The resume plan of a phase and the epoch logs it keeps: the chief decides, the other workers follow.

    On the chief (and on one machine) it reads the phase's newest good state and its log, prints
    what happens and why, and tidies damaged files; the other workers read the state the chief
    chose and fail with the fix if they cannot see it.

    Raises:
        ValueError: a worker cannot read the state and log the chief resumes from.

    Example:
        >>> plan, kept = resume_phase(run, "head", model, initial_epoch=0, epochs=5)
        >>> plan.initial_epoch, [entry["epoch"] for entry in kept]
        (3, [0, 1, 2])
    """
    plan, kept = _plan_on_chief(run, phase, model, initial_epoch, epochs) if run.writer else (None, [])
    epoch = int(chief_value(run.strategy, plan.state.epoch if plan is not None and plan.state is not None else -1))
    if run.writer:
        return plan, kept
    if epoch < 0:
        return ResumePlan(None), []
    folder = run.phase_dir(phase)
    plan = plan_resume(folder / "states", model, tidy=False)
    logs = read_json(folder / "history.json")
    kept = [entry for entry in logs or [] if initial_epoch <= entry.get("epoch", -1) <= epoch]
    if plan.state is None or plan.state.epoch != epoch or [entry["epoch"] for entry in kept] != list(
            range(initial_epoch, epoch + 1)):
        raise ValueError(f"The chief resumes phase {phase!r} after epoch {epoch + 1}, but this worker cannot read "
                         f"that state and log in {folder}: put the run folder (run_dir=...) on storage that every "
                         f"worker sees (a shared file system). {run.hint}")
    return plan, kept


def _plan_on_chief(run: "Run", phase: str, model: keras.Model, initial_epoch: int, epochs: int):
    """The resume plan of a phase and the logs it keeps; prints what happens and why."""
    folder = run.phase_dir(phase)
    remove_partial(folder)
    plan = plan_resume(folder / "states", model)
    logs = read_json(folder / "history.json")
    logs = logs if isinstance(logs, list) else []
    if plan.state is None:
        (folder / "history.json").unlink(missing_ok=True)
        if plan.notes or logs:
            why = "" if plan.notes else " (it was interrupted before one was saved whole)"
            print(f"{' '.join(plan.notes + [''])}No complete state of phase {phase!r} is left in {folder}{why}, so "
                  f"the phase starts again from its first epoch. {run.hint}")
        return plan, []
    kept = [entry for entry in logs if initial_epoch <= entry.get("epoch", -1) <= plan.state.epoch]
    if [entry["epoch"] for entry in kept] != list(range(initial_epoch, plan.state.epoch + 1)):
        shutil.rmtree(folder / "states", ignore_errors=True)
        (folder / "history.json").unlink(missing_ok=True)
        print(f"The epoch log {folder / 'history.json'} is damaged or does not cover the saved state, so phase "
              f"{phase!r} starts again from its first epoch. {run.hint}")
        plan.state, plan.kept = None, {}
        return plan, []
    redo = [entry["epoch"] for entry in logs if entry.get("epoch", -1) > plan.state.epoch]
    lost = (f" {_epochs(redo).capitalize()} finished, but {'its' if len(redo) == 1 else 'their'} saved state is "
            f"missing or damaged, so {'it is' if len(redo) == 1 else 'they are'} trained again." if redo else "")
    where = (f"at epoch {plan.state.epoch + 2}" if plan.state.epoch + 1 < epochs
             else f"after its last epoch ({plan.state.epoch + 1}), which had finished")
    print(f"Resuming phase {phase!r} {where}, from {folder} (same call, interrupted before)."
          f"{' ' + ' '.join(plan.notes) if plan.notes else ''}{lost}"
          f"{' ' + run.hint if run.temporary or plan.notes else ''}")
    return plan, kept
