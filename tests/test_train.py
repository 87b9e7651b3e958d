"""daylib.training: the cached head, both phases, states and resuming, atomic files, distribution strategies.

Faults inside writes (SIGKILL, Ctrl-C, damaged files) and the writers themselves: test_train_faults.py.
Bad inputs: test_train_inputs.py.
"""
import importlib.util
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from _helpers_train import EpochStarts, InterruptAfter, make_model, phantom_data, tiny_base
from daylib import config
from daylib.data.images import ImageError
from daylib.evaluate import evaluate_model
from daylib.models import base_model, build_classifier, trainable_layer_names
from daylib.training import (
    TrainingHistory,
    extract_features,
    fine_tune,
    head_model,
    put_head_back,
    train_classifier,
    train_head,
)
from daylib.training.atomic import write_json
from daylib.training.runs import ResumableEarlyStopping, Run

SIZE = 32

# Keras 3.15's save_weights calls np.array(variable, copy=False) under NumPy 2.4 (its own deprecation, not ours).
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")


@pytest.fixture(scope="module")
def data():
    return phantom_data()


def _bn_state(model):
    return [w.numpy().copy() for layer in base_model(model).layers
            if isinstance(layer, keras.layers.BatchNormalization) for w in layer.weights]


def test_cached_head_predicts_what_the_full_model_predicts_after_put_back(data):
    (x, y), _ = data
    model = make_model()
    features, labels = extract_features(model, (x, y))
    assert features.shape == (32, 16)
    np.testing.assert_array_equal(labels, y)
    head = head_model(model)
    head.compile(keras.optimizers.Adam(0.05), "binary_crossentropy")
    head.fit(features, labels, epochs=3, verbose=0)
    before = model.predict(x, verbose=0)
    put_head_back(head, model)
    after = model.predict(x, verbose=0)
    assert np.abs(after - before).max() > 1e-3
    np.testing.assert_allclose(after, head.predict(features, verbose=0), atol=1e-5)


def test_features_do_not_depend_on_the_batch_size(data):
    (x, y), _ = data
    model = make_model()
    whole, labels = extract_features(model, (x, y), batch_size=32)
    batched, batched_labels = extract_features(model, (x, y), batch_size=5)  # 7 batches, the last one partial
    assert batched.shape == whole.shape
    np.testing.assert_allclose(batched, whole, atol=1e-5)
    np.testing.assert_array_equal(batched_labels, labels)


def test_grayscale_arrays_give_the_features_of_their_rgb_copies(data):
    (x, y), _ = data
    model = make_model()
    gray, _ = extract_features(model, (x[..., 0], y))
    np.testing.assert_allclose(gray, extract_features(model, (x, y))[0], atol=1e-6)


def test_datasets_with_one_hot_labels_train_a_softmax_head(data):
    (x, y), (xv, yv) = data
    labels, val_labels = y + (x[:, 0, 0, 0] > 100), yv + (xv[:, 0, 0, 0] > 100)  # three classes
    train = tf.data.Dataset.from_tensor_slices((x, np.eye(3)[labels])).batch(8)
    val = tf.data.Dataset.from_tensor_slices((xv, np.eye(3)[val_labels])).batch(8)
    model = build_classifier(tiny_base(), 3)
    features, one_hot = extract_features(model, train)
    np.testing.assert_allclose(features, extract_features(model, (x, labels))[0], atol=1e-6)
    np.testing.assert_array_equal(one_hot, np.eye(3)[labels])
    history = train_head(model, train, val, epochs=2, verbose=0)
    assert history.epoch == [0, 1] and set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    report = evaluate_model(model, val)
    assert report.confusion.shape == (3, 3) and report.n == 16
    assert report["accuracy"] == pytest.approx(history.history["val_accuracy"][history.best_epochs["head"]])


def test_two_phases_join_and_fine_tuning_trains_only_the_top(data, tmp_path):
    train, val = data
    model = make_model()
    head = train_head(model, train, val, epochs=2, run_dir=tmp_path, verbose=0)
    assert head.epoch == [0, 1] and head.fine_tune_epoch is None
    assert trainable_layer_names(model) == ["predictions"]
    bn_before = _bn_state(model)
    conv1, conv2 = (base_model(model).get_layer(n).kernel.numpy().copy() for n in ("conv1", "conv2"))

    starts = EpochStarts()
    history = fine_tune(model, train, val, top_n=3, epochs=2, after=head, callbacks=[starts],
                        run_dir=tmp_path, patience=None, verbose=0)

    assert starts.epochs == [2, 3]
    assert history.epoch == [0, 1, 2, 3] and history.fine_tune_epoch == 2
    assert len(history.history["val_loss"]) == 4
    assert trainable_layer_names(model) == ["tiny_base/conv2", "predictions"]
    for got, want in zip(_bn_state(model), bn_before):
        np.testing.assert_array_equal(got, want)  # BN in inference mode: moving statistics untouched
    np.testing.assert_array_equal(base_model(model).get_layer("conv1").kernel.numpy(), conv1)
    assert not np.array_equal(base_model(model).get_layer("conv2").kernel.numpy(), conv2)

    best = history.best_epochs["fine_tune"]
    assert history.history["val_loss"][best] == min(history.history["val_loss"][2:])
    keras_scores = model.evaluate(*val, verbose=0, return_dict=True)
    assert keras_scores["loss"] == pytest.approx(history.history["val_loss"][best], abs=1e-5)
    assert evaluate_model(model, val, bootstrap=0)["accuracy"] == pytest.approx(keras_scores["accuracy"])

    restored = make_model()
    restored.load_weights(tmp_path / "fine_tune" / "model.weights.h5")
    np.testing.assert_array_equal(restored.predict(val[0], verbose=0), model.predict(val[0], verbose=0))
    assert (tmp_path / "head" / "model.weights.h5").exists()  # one run_dir, each phase in its own folder


def test_interrupted_run_resumes_where_it_stopped(data, tmp_path):
    train, val = data
    settings = dict(head_epochs=1, fine_tune_epochs=2, top_n=3, run_dir=tmp_path, patience=None, verbose=0)
    with pytest.raises(KeyboardInterrupt):
        train_classifier(make_model, train, val, callbacks=[InterruptAfter(1)], **settings)
    logged = json.loads((tmp_path / "fine_tune" / "history.json").read_text())
    assert [entry["epoch"] for entry in logged] == [1]

    starts = EpochStarts()
    history = train_classifier(make_model, train, val, callbacks=[starts], **settings)

    assert starts.epochs == [2]  # phase 1 skipped, phase 2 continues after its last finished epoch
    assert history.epoch == [0, 1, 2] and history.fine_tune_epoch == 1
    assert history.history["loss"][1] == logged[0]["loss"]
    assert json.loads((tmp_path / "fine_tune" / "run.json").read_text())["status"] == "finished"


def test_interrupted_cached_head_resumes_where_it_stopped(data, tmp_path):
    train, val = data
    settings = dict(epochs=3, cached=True, learning_rate=0.05, patience=None, verbose=0)
    with pytest.raises(KeyboardInterrupt):
        train_head(make_model, train, val, callbacks=[InterruptAfter(0)], run_dir=tmp_path, **settings)
    logged = json.loads((tmp_path / "head" / "history.json").read_text())
    starts = EpochStarts()
    resumed = train_head(make_model, train, val, callbacks=[starts], run_dir=tmp_path, **settings)
    assert starts.epochs == [1, 2]  # the head's epoch 0 is not trained again
    assert resumed.epoch == [0, 1, 2] and resumed.history["loss"][0] == logged[0]["loss"]

    whole = train_head(make_model, train, val, run_dir=tmp_path / "whole", **settings)
    config.seed_everything(0)
    untrained = make_model().predict(val[0], verbose=0)  # the factory's model before training
    trained = whole.model.predict(val[0], verbose=0)
    # Keras restores weights and optimizer state, not the random state of the shuffling: close, maybe not equal.
    gap = np.abs(resumed.model.predict(val[0], verbose=0) - trained).max()
    assert gap < 0.05 * np.abs(trained - untrained).max()


def test_run_folder_keeps_a_phase_only_for_the_same_unfinished_call(tmp_path):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    run = Run.open(tmp_path, "call-a", ("head",))
    run.mark_done("head", model, [{"epoch": 0, "loss": 0.5}], best_epoch=0)
    assert Run.open(tmp_path, "call-a", ("head",)).done("head")["best_epoch"] == 0  # interrupted: kept
    Run.open(tmp_path, "call-a", ("fine_tune",))  # another phase in the same folder leaves "head" alone
    assert Run.open(tmp_path, "call-a", ("head",)).done("head") is not None
    assert Run.open(tmp_path, "call-b", ("head",)).done("head") is None  # another call: cleared
    run = Run.open(tmp_path, "call-b", ("head",))
    run.mark_done("head", model, [], best_epoch=None)
    run.finish()
    assert Run.open(tmp_path, "call-b", ("head",)).done("head") is None  # finished: trained afresh


def test_temporary_run_saves_the_model_only_where_a_restart_could_need_it(tmp_path, monkeypatch):
    monkeypatch.setattr("daylib.config.CACHE_DIR", tmp_path)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    run = Run.open(None, "call-c", ("head", "fine_tune"))
    assert run.temporary and run.directory.parent == tmp_path / "runs"
    run.mark_done("head", model, [{"epoch": 0, "loss": 0.5}], best_epoch=0)
    assert (run.phase_dir("head") / "model.weights.h5").exists()  # an interrupted fine_tune skips phase 1
    run.mark_done("fine_tune", model, [{"epoch": 1, "loss": 0.4}], best_epoch=1)
    assert not (run.phase_dir("fine_tune") / "model.weights.h5").exists()  # finish() deletes it next anyway
    assert run.done("fine_tune") is None
    run.finish()
    assert not run.directory.exists()


def test_resumed_early_stopping_counts_patience_from_before_the_interruption():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    past = [(0, 0.5), (1, 0.4), (2, 0.45), (3, 0.47)]
    stop = ResumableEarlyStopping(past, monitor="val_loss", mode="min", patience=3)
    stop.set_model(model)
    stop.on_train_begin()
    assert (float(stop.best), stop.best_epoch, stop.wait) == (0.4, 1, 2)
    model.stop_training = False
    stop.on_epoch_end(4, {"val_loss": 0.46})
    assert model.stop_training  # the third epoch without improvement, as in the uninterrupted run


def test_resumed_early_stopping_knows_when_the_interrupted_run_had_stopped():
    stopped = ResumableEarlyStopping([(0, 0.5), (1, 0.6), (2, 0.7)], monitor="val_loss", mode="min", patience=2)
    going = ResumableEarlyStopping([(0, 0.5), (1, 0.6), (2, 0.4)], monitor="val_loss", mode="min", patience=2)
    assert stopped.fired_before() and not going.fired_before()


def test_a_run_whose_early_stopping_had_fired_trains_no_further_epoch(data, tmp_path, capsys):
    train, val = data
    settings = dict(epochs=6, learning_rate=0.05, patience=2, run_dir=tmp_path, verbose=0)
    with pytest.raises(KeyboardInterrupt):  # killed after epoch 2, before the phase was marked done
        train_head(make_model, train, val, callbacks=[InterruptAfter(2)], **settings)
    history = tmp_path / "head" / "history.json"
    logs = json.loads(history.read_text())
    for entry, value in zip(logs, [0.5, 0.6, 0.7]):  # as if val_loss had risen twice: patience used up
        entry["val_loss"] = value
    write_json(history, logs)
    starts = EpochStarts()
    resumed = train_head(make_model, train, val, callbacks=[starts], **settings)
    assert "Early stopping had ended phase 'head' after epoch 3 already" in capsys.readouterr().out
    assert starts.epochs == [] and resumed.epoch == [0, 1, 2]


def test_plain_path_trains_the_head_with_augmentation_and_a_frozen_base(data):
    train, val = data
    model = make_model(augmentation=keras.layers.RandomFlip("horizontal", name="augmentation"))
    base_before = [w.numpy().copy() for w in base_model(model).weights]
    head_before = model.get_layer("predictions").kernel.numpy().copy()
    history = train_head(model, train, val, epochs=1, cached=False, verbose=0)
    assert history.epoch == [0] and history.run_dir is None
    for got, want in zip(base_model(model).weights, base_before):
        np.testing.assert_array_equal(got.numpy(), want)
    assert not np.array_equal(model.get_layer("predictions").kernel.numpy(), head_before)
    with pytest.warns(UserWarning, match="without augmentation"):
        train_head(model, train, val, epochs=0, cached=True, verbose=0)


def test_training_arguments_are_checked_before_training(data):
    train, val = data
    model = make_model()
    with pytest.raises(ValueError, match="exactly one of fine_tune_at"):
        train_classifier(model, train, val, fine_tune_epochs=2)
    with pytest.raises(ValueError, match="one positive weight per class"):
        train_head(model, train, val, class_weight={1: 2.0})
    with pytest.raises(ValueError, match="monitor='val_precision' is not logged"):
        train_head(model, train, val, monitor="val_precision")
    with pytest.raises(ValueError, match="200 images but 32 labels"):
        train_head(model, (np.zeros((200, SIZE, SIZE, 3)), train[1]))
    with pytest.raises(ImageError, match="Training images are 48x48 but the model expects 32x32"):
        train_head(model, (np.zeros((32, 48, 48, 3)), train[1]))
    broken = val[0].astype("float32")
    broken[3, 0, 0, 0] = np.nan
    with pytest.raises(ImageError, match="Validation images contain NaN.*the first is index 3"):
        train_head(model, train, (broken, val[1]))
    with pytest.raises(ValueError, match="labels must be class indices"):
        train_head(model, (train[0], train[1] - 1))
    plain = keras.Sequential([keras.Input((SIZE, SIZE, 3)), keras.layers.Flatten(), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="cached=False"):
        train_head(plain, train)


def test_training_has_one_public_name():
    import daylib.training

    assert importlib.util.find_spec("daylib.train") is None
    assert importlib.util.find_spec("daylib.training.data") is None
    for name in daylib.training.__all__:
        assert getattr(daylib.training, name) is not None


def test_history_join_refuses_a_gap():
    first = TrainingHistory.from_logs([{"epoch": 0, "loss": 0.7}, {"epoch": 1, "loss": 0.6}])
    joined = first.then(TrainingHistory.from_logs([{"epoch": 2, "loss": 0.5}]), fine_tune=True)
    assert joined.history["loss"] == [0.7, 0.6, 0.5] and joined.fine_tune_epoch == 2
    with pytest.raises(ValueError, match="initial_epoch=2"):
        first.then(TrainingHistory.from_logs([{"epoch": 1, "loss": 0.5}]))


STRATEGY_SCRIPT = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests_dir!r})
    import daylib, tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras, numpy as np
    from daylib.models import build_classifier
    from daylib.training import extract_features, train_classifier
    from _helpers_train import EpochStarts, InterruptAfter, make_model, phantom_data, tiny_base
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    x = np.random.default_rng(0).integers(0, 255, (16, 32, 32, 3)).astype("uint8")
    y = np.arange(16) % 2
    try:
        train_classifier(build_classifier(tiny_base(), 2), (x, y), strategy=strategy)
    except ValueError as error:
        print("refused:", "outside strategy.scope()" in str(error))
    start = {{}}
    def factory():
        model = build_classifier(tiny_base(), 2)
        start["conv2"] = model.get_layer("tiny_base").get_layer("conv2").kernel.numpy().copy()
        return model
    history = train_classifier(factory, (x, y), head_epochs=1, fine_tune_epochs=1, top_n=3, strategy=strategy,
                               batch_size=8, verbose=0)
    conv = history.model.get_layer("tiny_base").get_layer("conv2").kernel
    print("replicas:", strategy.num_replicas_in_sync, type(conv.value).__name__, history.epoch, history.fine_tune_epoch)
    print("conv2 trained:", not np.array_equal(conv.numpy(), start["conv2"]))
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    features, labels = extract_features(history.model, dataset, strategy=strategy)
    alone, _ = extract_features(history.model, (x, y))
    print("distributed features:", features.shape, np.allclose(features, alone, atol=1e-5), (labels == y).all())
    from _helpers_train import EpochStarts, InterruptAfter
    settings = dict(head_epochs=1, fine_tune_epochs=2, top_n=3, strategy=strategy, batch_size=8, verbose=0,
                    run_dir={run_dir!r})
    try:
        train_classifier(factory, (x, y), callbacks=[InterruptAfter(1)], **settings)
    except KeyboardInterrupt:
        pass
    starts = EpochStarts()
    resumed = train_classifier(factory, (x, y), callbacks=[starts], **settings)
    print("resumed under the strategy:", starts.epochs, resumed.epoch)
""")


def test_mirrored_strategy_over_two_cpus_trains_both_phases_and_resumes(tmp_path):
    script = STRATEGY_SCRIPT.format(tests_dir=str(Path(__file__).parent), run_dir=str(tmp_path / "run"))
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "refused: True" in result.stdout
    assert "replicas: 2 MirroredVariable [0, 1] 1" in result.stdout
    assert "conv2 trained: True" in result.stdout
    assert "distributed features: (16, 16) True True" in result.stdout
    assert "resumed under the strategy: [2] [0, 1, 2]" in result.stdout  # states load into mirrored variables
