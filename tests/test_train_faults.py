"""Faults during training: SIGKILL inside a weights write, Ctrl-C inside a save, damaged files on disk.

Each time, repeating the same call must resume, lose at most one epoch, say so, and end
close to an uninterrupted run. The child processes hook the writers (``numpy.savez`` for the
per-epoch states, ``Model.save_weights`` for the end-of-phase weights) so that the fault
lands inside the write: they write half the file under its temporary name, then wait to be
killed, or raise ``KeyboardInterrupt``. The last tests check the writers and readers
themselves, in process.
"""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import keras
import numpy as np
import pytest

from _helpers_train import fault_run, make_model, phantom_data, summary
from daylib import config
from daylib.training.atomic import atomic_path, read_json, write_json
from daylib.training.runs import Run
from daylib.training.states import EpochStates, ResumePlan, StateError, plan_resume, read_state, save_state, state_path

TESTS = Path(__file__).parent
TIMEOUT = 180

pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")

CHILD = textwrap.dedent("""
    import io, json, sys, time
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    import keras, numpy as np
    from _helpers_train import EpochStarts, InterruptAfter, fault_run, summary

    fault, count, marker, run_dir = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    run_dir = None if run_dir == "none" else run_dir
    seen = {{"states": 0}}

    def half_written(path):
        open(marker, "w").close()
        if fault == "kill":
            time.sleep(600)  # the parent kills the process here, inside the write
        raise KeyboardInterrupt

    real_savez = np.savez
    def hooked_savez(file, *args, **kwds):
        if fault in ("kill", "interrupt") and "/states/" in str(file):
            seen["states"] += 1
            if seen["states"] == count:
                buffer = io.BytesIO()
                real_savez(buffer, *args, **kwds)
                with open(file, "wb") as handle:
                    handle.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
                half_written(file)
        return real_savez(file, *args, **kwds)

    real_save_weights = keras.Model.save_weights
    def hooked_save_weights(self, filepath, *args, **kwargs):
        real_save_weights(self, filepath, *args, **kwargs)
        if fault == "kill-weights":
            with open(filepath, "r+b") as handle:
                handle.truncate(handle.seek(0, 2) // 2)
            open(marker, "w").close()
            time.sleep(600)

    np.savez = hooked_savez
    keras.Model.save_weights = hooked_save_weights
    if fault == "interrupt":
        try:
            fault_run(run_dir)
        except KeyboardInterrupt:
            print("interrupted inside the save", flush=True)
        fault = "none"
    if fault == "damage":  # Ctrl-C after epoch 3, then damage the newest state, or all of them, on disk
        for scenario in ("newest", "all"):
            folder = f"{{run_dir}}/{{scenario}}"
            try:
                fault_run(folder, [InterruptAfter(3)])
            except KeyboardInterrupt:
                pass
            states = sorted(Path(folder, "fine_tune", "states").glob("epoch-*.npz"))
            if scenario == "newest":
                states[-1].write_bytes(states[-1].read_bytes()[: states[-1].stat().st_size // 2])
            else:
                for state in states:
                    state.write_bytes(b"PK\x03\x04 not a zip any more")
            starts = EpochStarts()
            print("RESULT", json.dumps(summary(fault_run(folder, [starts]), starts)), flush=True)
        sys.exit(0)
    starts = EpochStarts()
    history = fault_run(run_dir, [starts])
    print("RESULT", json.dumps(summary(history, starts)), flush=True)
""").format(tests=str(TESTS))


def _env(cache: Path) -> dict:
    return dict(os.environ, DAYLIB_CACHE_DIR=str(cache), DAYLIB_QUICK="1", TF_CPP_MIN_LOG_LEVEL="2")


def _child(tmp_path: Path, fault: str, count: int, run_dir) -> list[str]:
    return [sys.executable, "-u", "-c", CHILD, fault, str(count), str(tmp_path / "marker"), str(run_dir)]


def run_child(tmp_path, fault="none", count=0, run_dir="none"):
    """Run the child to the end; return its stdout split at each RESULT line, and the RESULTs."""
    cache = tmp_path / "cache"
    done = subprocess.run(_child(tmp_path, fault, count, run_dir), capture_output=True, text=True,
                          timeout=TIMEOUT, env=_env(cache))
    assert done.returncode == 0, done.stderr[-3000:]
    parts, results, text = [], [], []
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            parts.append("\n".join(text))
            results.append(json.loads(line[len("RESULT "):]))
            text = []
        else:
            text.append(line)
    return parts, results


def kill_child(tmp_path, fault, count=0, run_dir="none"):
    """Start the child, SIGKILL it once its hooked writer is inside a write; return what it printed."""
    marker, cache = tmp_path / "marker", tmp_path / "cache"
    marker.unlink(missing_ok=True)
    child = subprocess.Popen(_child(tmp_path, fault, count, run_dir), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=_env(cache))
    deadline = time.monotonic() + TIMEOUT
    while not marker.exists() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), f"the hooked write never started: {child.poll()}"
    child.send_signal(signal.SIGKILL)
    out, _ = child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL
    return out


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run, and the untrained model's predictions (the scale for "close")."""
    result = summary(fault_run(tmp_path_factory.mktemp("reference")))
    config.seed_everything(0)
    untrained = make_model().predict(phantom_data()[1][0], verbose=0).ravel()
    return result, untrained


def assert_close_to_uninterrupted(result, reference):
    wanted, untrained = reference
    assert result["epoch"] == wanted["epoch"] == [0, 1, 2, 3, 4] and result["fine_tune_epoch"] == 2
    got, want = np.array(result["predictions"]), np.array(wanted["predictions"])
    # Weights and optimizer state resume exactly; the shuffling's random state does not: close, not equal.
    assert np.abs(got - want).max() < 0.1 * np.abs(want - untrained).max()
    best = result["best"]["fine_tune"]
    assert result["val_loss"][best] == min(result["val_loss"][2:])  # the best epoch's weights were restored
    assert result["eval_loss"] == pytest.approx(result["val_loss"][best], abs=1e-5)


def test_sigkill_inside_weights_writes_resumes_each_time(tmp_path, reference):
    cache = tmp_path / "cache"
    kill_child(tmp_path, "kill-weights")  # killed while writing head/model.weights.h5 (phase 1 finished)
    (folder,) = (cache / "runs").iterdir()
    assert (folder / "head" / "model.partial.weights.h5").exists()  # half written under the temporary name
    assert not (folder / "head" / "model.weights.h5").exists()

    out = kill_child(tmp_path, "kill", count=2)  # resumed, then killed inside the state write of epoch 3
    assert f"Resuming phase 'head' after its last epoch (2), which had finished, from {folder / 'head'}" in out
    assert f"This call's run folder is {folder}" in out and "run_dir=" in out  # a hidden folder is named
    assert (folder / "fine_tune" / "states" / "epoch-0003.partial.npz").exists()

    (out,), (result,) = run_child(tmp_path)
    assert f"Resuming phase 'fine_tune' at epoch 4, from {folder / 'fine_tune'}" in out
    assert "Epoch 4 finished, but its saved state is missing or damaged, so it is trained again" in out
    assert result["starts"] == [3, 4]  # one epoch lost: 3 (printed 1-based as 4)
    assert_close_to_uninterrupted(result, reference)
    assert not folder.exists()  # a finished temporary run leaves nothing behind


def test_ctrl_c_inside_a_save_resumes_in_the_same_process(tmp_path, reference):
    (out,), (result,) = run_child(tmp_path, "interrupt", count=4, run_dir=tmp_path / "run")  # the state of epoch 3
    assert "interrupted inside the save" in out
    assert not list((tmp_path / "run").rglob("*.partial*"))  # the half-written file was removed at once
    assert f"Resuming phase 'fine_tune' at epoch 4, from {tmp_path / 'run' / 'fine_tune'}" in out
    assert result["starts"] == [3, 4]
    assert_close_to_uninterrupted(result, reference)


def test_damaged_states_on_disk_fall_back_to_the_last_good_one(tmp_path, reference):
    run_dir = tmp_path / "run"
    (newest, everything), (result, restarted) = run_child(tmp_path, "damage", run_dir=run_dir)

    folder = run_dir / "newest"  # the newest state truncated: back to the one before, one epoch lost
    assert f"The saved state {folder / 'fine_tune' / 'states' / 'epoch-0003.npz'} is damaged or cut short" in newest
    assert "it was deleted" in newest and "Resuming phase 'fine_tune' at epoch 4" in newest
    assert f"The run folder is {folder}: delete it to start the call afresh" in newest
    assert result["starts"] == [3, 4]
    assert_close_to_uninterrupted(result, reference)

    folder = run_dir / "all"  # every state damaged: nothing good left, phase 2 again, phase 1 kept
    assert f"No complete state of phase 'fine_tune' is left in {folder / 'fine_tune'}" in everything
    assert "starts again from its first epoch" in everything and f"The run folder is {folder}" in everything
    assert restarted["starts"] == [2, 3, 4]
    assert_close_to_uninterrupted(restarted, reference)


def test_an_interrupted_atomic_write_leaves_the_previous_file(tmp_path):
    target = tmp_path / "history.json"
    write_json(target, [{"epoch": 0}])
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(target) as tmp:
            tmp.write_text('[{"epoch": 0}, {"ep')  # Ctrl-C halfway through the write
            raise KeyboardInterrupt
    assert read_json(target) == [{"epoch": 0}]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.json"]
    target.write_text('[{"epoch": 0}, {"ep')
    assert read_json(target) is None  # unreadable reads as absent


def _small_model():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2), keras.layers.Dense(1)])
    model.compile(keras.optimizers.Adam(), "mse")
    return model


def test_states_keep_the_two_newest_and_the_best_of_the_older_ones(tmp_path):
    model = _small_model()
    states = EpochStates(tmp_path, ResumePlan(None), monitor="val_loss", mode="min")
    states.set_model(model)
    for epoch, value in enumerate([0.5, 0.4, 0.6, 0.7, 0.8]):
        states.on_epoch_end(epoch, {"val_loss": value})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch-0001.npz", "epoch-0003.npz", "epoch-0004.npz"]
    states.on_epoch_end(5, {"val_loss": 0.3})  # a new best: the best of the older ones is still kept
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch-0001.npz", "epoch-0004.npz", "epoch-0005.npz"]
    assert states.restore_best() == (5, [])  # the model holds epoch 5 already: nothing to read


def test_a_resume_plan_skips_damaged_states_and_leaves_the_model_alone(tmp_path):
    model = _small_model()
    save_state(state_path(tmp_path, 0), model, 0, 0.5)
    model.layers[0].kernel.assign(model.layers[0].kernel + 1.0)
    save_state(state_path(tmp_path, 1), model, 1, 0.4)
    before = [w.numpy().copy() for w in model.weights]
    newest = state_path(tmp_path, 1)
    newest.write_bytes(newest.read_bytes()[:200])
    plan = plan_resume(tmp_path, model)
    assert plan.state.epoch == 0 and plan.initial_epoch == 1 and plan.kept == {0: 0.5}
    assert "epoch-0001.npz is damaged or cut short" in plan.notes[0] and not newest.exists()
    for got, want in zip(model.weights, before):
        np.testing.assert_array_equal(got.numpy(), want)  # read in full, loaded later by the callback
    other = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4), keras.layers.Dense(1)])
    with pytest.raises(StateError, match="do not match the model's"):
        read_state(state_path(tmp_path, 0), other)


def test_damaged_end_of_phase_weights_are_trained_again(tmp_path, capsys):
    model = _small_model()
    run = Run.open(tmp_path, "call-d", ("head", "fine_tune"))
    run.mark_done("head", model, [{"epoch": 0, "loss": 0.5}], best_epoch=0)
    assert Run.open(tmp_path, "call-d", ("head", "fine_tune")).load_finished("head", _small_model())["best_epoch"] == 0
    weights = tmp_path / "head" / "model.weights.h5"
    weights.write_bytes(weights.read_bytes()[:1000])
    fresh = _small_model()
    start = [w.numpy().copy() for w in fresh.weights]
    assert run.load_finished("head", fresh) is None
    assert f"its saved end weights {weights} (or done.json) are damaged" in capsys.readouterr().out
    assert run.done("head") is None and not weights.exists()
    for got, want in zip(fresh.weights, start):
        np.testing.assert_array_equal(got.numpy(), want)  # checked before loading: the model keeps its start
