"""daylib.evaluate and daylib.viz.results: metrics against hand-computed values and scikit-learn, thresholds, plots."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from sklearn import metrics as skm  # noqa: E402

from daylib.evaluate import (  # noqa: E402
    UndefinedMetricError,
    bootstrap_ci,
    choose_threshold,
    classification_metrics,
    compare_to_paper,
    confusion_matrix,
    evaluate,
    roc_auc,
    roc_curve,
)
from daylib.training import TrainingHistory  # noqa: E402
from daylib.viz.results import FINE_TUNE_LABEL, KEPT_LABEL, plot_confusion_matrix, plot_history, plot_roc  # noqa: E402

# 4 negatives, 6 positives. At threshold 0.5: TN=3 FP=1 (0.6) | TP=4 FN=2 (0.3, 0.45).
Y = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1])
S = np.array([0.1, 0.4, 0.6, 0.2, 0.9, 0.8, 0.3, 0.7, 0.55, 0.45])


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_binary_metrics_match_hand_computed_values():
    report = evaluate(Y, S, bootstrap=0)
    assert report.confusion.tolist() == [[3, 1], [2, 4]]
    assert report.metrics == pytest.approx({
        "accuracy": 0.7, "precision": 0.8, "recall": 4 / 6, "specificity": 0.75, "f1": 8 / 11,
        "auc": 20 / 24,  # pairs (positive above negative): 4 + 4 + 2 + 4 + 3 + 3 of 6 * 4
    })
    # majority class is 1 (6 of 10): always "pneumonia"
    assert report.baseline_class == 1
    assert report.baseline == pytest.approx(
        {"accuracy": 0.6, "precision": 0.6, "recall": 1.0, "specificity": 0.0, "f1": 0.75, "auc": 0.5})
    assert not report.notes


def test_auc_counts_ties_as_one_half_and_accepts_two_columns():
    assert roc_auc([0, 1, 0, 1], [0.5, 0.5, 0.2, 0.8]) == pytest.approx(3.5 / 4)
    two_columns = np.stack([1 - S, S], axis=1)
    assert roc_auc(Y, two_columns) == pytest.approx(20 / 24)
    assert evaluate(Y, two_columns, bootstrap=0).metrics == evaluate(Y, S, bootstrap=0).metrics


def test_roc_curve_steps_through_each_distinct_score():
    fpr, tpr, thresholds = roc_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    assert tpr.tolist() == [0.0, 0.5, 0.5, 1.0, 1.0]
    assert fpr.tolist() == [0.0, 0.0, 0.5, 0.5, 1.0]
    assert thresholds[0] == np.inf and thresholds[1:].tolist() == [0.8, 0.4, 0.35, 0.1]


def test_all_negative_predictions_leave_precision_undefined_not_nan():
    report = evaluate(Y, np.full(10, 0.1), bootstrap=0)
    assert report.confusion.tolist() == [[4, 0], [6, 0]]
    assert report.metrics == {"accuracy": 0.4, "precision": None, "recall": 0.0, "specificity": 1.0, "f1": 0.0,
                              "auc": 0.5}
    assert any("precision is undefined: no sample was predicted positive" in note for note in report.notes)
    assert "undefined" in str(report)


def test_all_positive_predictions():
    report = evaluate(Y, np.full(10, 0.9), bootstrap=0)
    assert report.metrics == pytest.approx(
        {"accuracy": 0.6, "precision": 0.6, "recall": 1.0, "specificity": 0.0, "f1": 0.75, "auc": 0.5})


def test_single_class_truth_makes_auc_undefined_and_says_so():
    with pytest.raises(UndefinedMetricError, match="only positive"):
        roc_auc([1, 1, 1], [0.2, 0.6, 0.9])
    report = evaluate([1, 1, 1], [0.2, 0.6, 0.9])
    assert report.metrics["auc"] is None and report.metrics["specificity"] is None
    assert report.metrics["recall"] == pytest.approx(2 / 3)
    assert "auc" not in report.intervals
    assert any("auc is undefined: y_true holds a single class" in note for note in report.notes)


def test_multiclass_macro_metrics_and_one_vs_rest_auc():
    y = np.array([0, 1, 2, 2])
    scores = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.25], [0.1, 0.2, 0.7], [0.5, 0.3, 0.2]])
    report = evaluate(y, scores, class_names=["a", "b", "c"], bootstrap=0)
    assert report.confusion.tolist() == [[1, 0, 0], [0, 1, 0], [1, 0, 1]]
    assert report.metrics == pytest.approx({
        "accuracy": 0.75, "precision": 2.5 / 3, "recall": 2.5 / 3, "specificity": (2 / 3 + 2) / 3,
        "f1": (2 / 3 + 1 + 2 / 3) / 3, "auc": (1 + 1 + 0.75) / 3,
    })
    one_hot = np.eye(3)[y]
    assert evaluate(one_hot, scores, bootstrap=0).metrics == report.metrics
    with pytest.raises(UndefinedMetricError, match=r"classes \[1\] never occur"):
        roc_auc([0, 2, 2], scores[[0, 2, 3]])


def _scores(kind: str, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    s = np.clip(0.25 * y + rng.uniform(0, 0.8, len(y)), 0, 1)
    return np.round(s, 1) if kind == "tied" else s


@pytest.mark.parametrize("kind", ["random", "tied"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_binary_metrics_agree_with_scikit_learn_in_the_right_argument_order(kind, seed):
    rng = np.random.default_rng(seed)
    y = (rng.uniform(size=150) < 0.3).astype(int)  # few positives, many false alarms: precision != recall
    s = _scores(kind, y, rng)
    p = (s >= 0.5).astype(int)
    report = evaluate(y, s, bootstrap=0)
    expected = {
        "accuracy": skm.accuracy_score(y, p),
        "precision": skm.precision_score(y, p),
        "recall": skm.recall_score(y, p),
        "specificity": skm.recall_score(y, p, pos_label=0),
        "f1": skm.f1_score(y, p),
        "auc": skm.roc_auc_score(y, s),
    }
    assert report.metrics == pytest.approx(expected, abs=1e-12)
    assert roc_auc(y, s) == pytest.approx(expected["auc"], abs=1e-12)
    np.testing.assert_array_equal(report.confusion, skm.confusion_matrix(y, p))
    np.testing.assert_array_equal(confusion_matrix(y, p), skm.confusion_matrix(y, p))
    # the data make a swapped (y_pred, y_true) call give other numbers, so it would fail above
    assert not np.array_equal(skm.confusion_matrix(p, y), skm.confusion_matrix(y, p))
    assert skm.precision_score(p, y) != pytest.approx(expected["precision"])
    assert skm.recall_score(p, y, pos_label=0) != pytest.approx(expected["specificity"])
    if kind == "tied":
        assert len(np.unique(s)) <= 11  # heavy ties: AUC counts each tied pair one half, as sklearn does
    fpr, tpr, thresholds = roc_curve(y, s)
    for ours, theirs in zip((fpr, tpr, thresholds), skm.roc_curve(y, s, drop_intermediate=False)):
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("kind", ["random", "tied"])
def test_multiclass_metrics_agree_with_scikit_learn(kind):
    rng = np.random.default_rng(4)
    y = rng.integers(0, 4, 300)
    logits = 1.5 * np.eye(4)[y] + rng.normal(size=(300, 4))
    s = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    if kind == "tied":
        s = np.round(s, 1)
    p = s.argmax(axis=1)
    report = evaluate(y, s, bootstrap=0)
    one_vs_rest = [skm.roc_auc_score(y == c, s[:, c]) for c in range(4)]
    expected = {
        "accuracy": skm.accuracy_score(y, p),
        "precision": skm.precision_score(y, p, average="macro"),
        "recall": skm.recall_score(y, p, average="macro"),
        "specificity": np.mean([skm.recall_score(y != c, p != c) for c in range(4)]),
        "f1": skm.f1_score(y, p, average="macro"),
        "auc": np.mean(one_vs_rest),
    }
    assert report.metrics == pytest.approx(expected, abs=1e-12)
    np.testing.assert_array_equal(report.confusion, skm.confusion_matrix(y, p))
    assert not np.array_equal(skm.confusion_matrix(p, y), skm.confusion_matrix(y, p))
    if kind == "random":  # rows sum to 1: sklearn's own one-vs-rest mode applies
        assert report["auc"] == pytest.approx(skm.roc_auc_score(y, s, multi_class="ovr"), abs=1e-12)
    assert roc_auc(y, logits) == pytest.approx(np.mean([skm.roc_auc_score(y == c, logits[:, c]) for c in range(4)]))


def test_no_positive_case_leaves_sensitivity_and_auc_undefined_with_notes():
    report = evaluate([0, 0, 0], [0.2, 0.6, 0.9], bootstrap=0)
    assert report.metrics == pytest.approx(
        {"accuracy": 1 / 3, "precision": 0.0, "recall": None, "specificity": 1 / 3, "f1": 0.0, "auc": None})
    assert "Model recall is undefined: y_true has no positive case." in report.notes
    assert "Model auc is undefined: y_true holds a single class." in report.notes
    with pytest.raises(UndefinedMetricError, match="only negative"):
        roc_auc([0, 0, 0], [0.2, 0.6, 0.9])
    with pytest.raises(UndefinedMetricError, match="only negative"):
        roc_curve([0, 0, 0], [0.2, 0.6, 0.9])
    assert classification_metrics([0, 0], [0, 0]) == {
        "accuracy": 1.0, "precision": None, "recall": None, "specificity": 1.0, "f1": None}
    # three classes: class 2 never predicted, so macro precision is undefined, not averaged over the rest
    assert classification_metrics([0, 1, 2], [0, 1, 1])["precision"] is None


def test_confusion_matrix_and_input_checks():
    assert confusion_matrix([0, 1, 1], [0, 0, 1]).tolist() == [[1, 0], [1, 1]]
    with pytest.raises(ValueError, match="NaN"):
        evaluate([0, 1], [0.2, np.nan])
    with pytest.raises(ValueError, match="scores has 2 rows but y_true has 3 labels: pass one score"):
        evaluate([0, 1, 1], [0.2, 0.4])
    with pytest.raises(ValueError, match="class_names has 3 names"):
        evaluate(Y, S, class_names=["a", "b", "c"])


@pytest.mark.parametrize("target", [0.5, 0.8, 0.9, 0.95, 1.0])
def test_threshold_choice_meets_the_target_with_the_highest_threshold(target):
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 200)
    s = np.clip(0.3 * y + rng.uniform(0, 0.7, 200), 0, 1)
    choice = choose_threshold(y, s, target_sensitivity=target)
    recall = ((s >= choice.threshold) & (y == 1)).sum() / (y == 1).sum()
    assert recall >= target and choice.sensitivity == pytest.approx(recall)
    higher = s[s > choice.threshold]
    if higher.size:
        next_up = higher.min()
        assert ((s >= next_up) & (y == 1)).sum() / (y == 1).sum() < target
    assert choice.specificity == pytest.approx(((s < choice.threshold) & (y == 0)).sum() / (y == 0).sum())


def test_threshold_from_validation_is_reported_on_test():
    choice = choose_threshold([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], target_sensitivity=1.0)
    assert (choice.threshold, choice.sensitivity, choice.specificity) == (0.35, 1.0, 0.5)
    report = evaluate(Y, S, threshold=choice, bootstrap=0)
    assert report.threshold == 0.35
    assert report.metrics["recall"] == pytest.approx(5 / 6)  # 0.3 is now the only missed positive
    assert "chosen on validation for sensitivity >= 1" in str(report)


def test_bootstrap_interval_is_seeded_and_brackets_the_estimate():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 60)
    s = np.clip(0.35 * y + rng.uniform(0, 0.65, 60), 0, 1)
    low, high = bootstrap_ci(y, s, "auc", n_resamples=300, seed=3)
    assert (low, high) == bootstrap_ci(y, s, "auc", n_resamples=300, seed=3)
    assert (low, high) != bootstrap_ci(y, s, "auc", n_resamples=300, seed=4)
    assert low < roc_auc(y, s) < high and high - low > 0.02
    report = evaluate(y, s, bootstrap=300, seed=3)
    assert report.intervals["auc"] == (low, high)
    assert report.intervals["accuracy"][0] < report["accuracy"] < report.intervals["accuracy"][1]


@pytest.mark.parametrize("classes", [2, 3])
def test_bootstrap_values_are_scikit_learns_on_each_resample(classes):
    rng = np.random.default_rng(classes)
    y = np.r_[np.arange(classes), rng.integers(0, classes, 6)]  # small: some resamples miss a class
    s = np.round(rng.uniform(size=(len(y), classes)), 1)
    s = s[:, 1] if classes == 2 else s

    def sklearn_auc(y_b, s_b):
        if len(np.unique(y_b)) < classes:
            return None
        if classes == 2:
            return skm.roc_auc_score(y_b, s_b)
        return np.mean([skm.roc_auc_score(y_b == c, s_b[:, c]) for c in range(classes)])

    def sklearn_accuracy(y_b, s_b):
        return skm.accuracy_score(y_b, (s_b >= 0.5).astype(int) if classes == 2 else s_b.argmax(axis=1))

    for name, reference in (("auc", sklearn_auc), ("accuracy", sklearn_accuracy)):
        assert bootstrap_ci(y, s, name, n_resamples=150, seed=2) == pytest.approx(
            bootstrap_ci(y, s, reference, n_resamples=150, seed=2), abs=1e-12)


def test_report_table_shows_model_beside_baseline():
    report = evaluate(Y, S, class_names=["normal", "pneumonia"], dataset="phantom", bootstrap=200)
    text = str(report)
    assert "model" in text and "baseline" in text and "95% CI" in text
    assert "recall (sensitivity)  0.667  1.000" in text
    assert "always predict the majority class 'pneumonia'" in text
    assert "<table>" in report._repr_html_()


def test_paper_comparison_says_when_data_are_not_the_real_test_set():
    phantom = compare_to_paper(evaluate(Y, S, dataset="phantom", bootstrap=0))
    assert "NOT on the real chest X-ray test set" in str(phantom)
    assert [row[0] for row in phantom.rows] == ["accuracy", "recall", "specificity", "auc"]
    assert phantom.rows[0][1:] == (0.7, 0.928)
    real = np.r_[np.zeros(234, int), np.ones(390, int)]
    scores = np.r_[np.full(234, 0.2), np.full(390, 0.8)]
    assert "the set the paper reports on" in str(compare_to_paper(evaluate(real, scores, dataset="chest_xray",
                                                                           bootstrap=0)))
    with pytest.raises(ValueError, match="binary report"):
        compare_to_paper(evaluate([0, 1, 2], np.eye(3), bootstrap=0))


def test_history_plot_marks_where_fine_tuning_starts():
    logs = [{"epoch": e, "loss": 1 - 0.1 * e, "val_loss": 1.1 - 0.1 * e, "accuracy": 0.5 + 0.05 * e}
            for e in range(5)]
    fig = TrainingHistory.from_logs(logs, fine_tune_epoch=3).plot()
    assert isinstance(fig, Figure) and [ax.get_title() for ax in fig.axes] == ["loss", "accuracy"]
    marks = [line for line in fig.axes[0].lines if line.get_label() == FINE_TUNE_LABEL]
    assert len(marks) == 1 and list(marks[0].get_xdata()) == [3.5, 3.5]
    training = next(line for line in fig.axes[0].lines if line.get_label() == "training")
    assert list(training.get_xdata()) == [1, 2, 3, 4, 5]
    from_scratch = TrainingHistory.from_logs(logs, fine_tune_epoch=0).plot()  # fine-tuned from epoch 0: no phase 1
    assert FINE_TUNE_LABEL not in [line.get_label() for line in from_scratch.axes[0].lines]
    with pytest.raises(ValueError, match="No logged values"):
        plot_history({"loss": [1.0]}, ["auc"])


def test_phase_two_curves_start_from_the_kept_epoch():
    logs = [{"epoch": e, "loss": [1.0, 0.8, 0.6, 0.7, 0.9, 0.5, 0.4][e]} for e in range(7)]
    history = TrainingHistory.from_logs(logs, fine_tune_epoch=5, best_epochs={"head": 2, "fine_tune": 6})
    ax = history.plot().axes[0]
    by_label = {line.get_label(): line for line in ax.lines}
    assert list(by_label["training"].get_xdata()) == [1, 2, 3, 4, 5]          # phase 1 alone
    star = by_label[KEPT_LABEL]
    assert (list(star.get_xdata()), list(star.get_ydata())) == ([3], [0.6])  # epoch 3 (index 2) was kept
    connectors = [line for line in ax.lines if line.get_linestyle() == ":" and list(line.get_xdata()) == [3, 6]]
    assert len(connectors) == 1 and list(connectors[0].get_ydata()) == [0.6, 0.5]  # phase 2 starts from it
    phase_two = [line for line in ax.lines if list(line.get_xdata()) == [6, 7]]
    assert len(phase_two) == 1 and phase_two[0].get_color() == by_label["training"].get_color()
    last_kept = TrainingHistory.from_logs(logs, fine_tune_epoch=5, best_epochs={"head": 4}).plot().axes[0]
    assert KEPT_LABEL not in [line.get_label() for line in last_kept.lines]  # nothing to mark: it continued


def test_confusion_and_roc_figures_show_the_numbers():
    report = evaluate(Y, S, class_names=["normal", "pneumonia"], bootstrap=0)
    fig = plot_confusion_matrix(report)
    assert sorted(text.get_text() for text in fig.axes[0].texts) == ["1", "2", "3", "4"]
    assert fig.axes[0].get_title() == "Confusion matrix: counts"
    titled = plot_confusion_matrix(evaluate(Y, S, dataset="phantom", bootstrap=0), normalize=True).axes[0]
    assert titled.get_title() == f"Confusion matrix on {len(Y)} phantom images: share of each true class"
    fig = plot_confusion_matrix(report.confusion, normalize=True)
    assert sorted(text.get_text() for text in fig.axes[0].texts) == ["0.25", "0.33", "0.67", "0.75"]
    fig = plot_roc(Y, S, threshold=0.5)
    curve, point = fig.axes[0].lines[:2]
    fpr, tpr, _ = roc_curve(Y, S)
    np.testing.assert_array_equal(curve.get_xdata(), fpr)
    assert "AUC 0.833" in curve.get_label()
    assert (point.get_xdata()[0], point.get_ydata()[0]) == pytest.approx((0.25, 4 / 6))


def test_evaluate_model_takes_grayscale_films_and_datasets_alike():
    import keras
    import tensorflow as tf

    from daylib.evaluate import evaluate_model

    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(keras.layers.GlobalAveragePooling2D()(inputs)))
    films = np.stack([np.full((8, 8), v, np.uint8) for v in (0, 10, 200, 250)])
    labels = np.array([0, 0, 1, 1])
    from_arrays = evaluate_model(model, (films, labels), batch_size=3)
    rgb = np.repeat(films[..., None], 3, axis=-1).astype("float32")
    from_dataset = evaluate_model(model, tf.data.Dataset.from_tensor_slices((rgb, labels)).batch(2))
    assert from_arrays["auc"] == from_dataset["auc"]
    assert from_arrays["accuracy"] == from_dataset["accuracy"]


def test_scores_and_labels_match_keras_predict_and_keep_the_labels():
    import keras
    import tensorflow as tf

    from daylib.evaluate import scores_and_labels

    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(keras.layers.GlobalAveragePooling2D()(inputs)))
    rgb = np.random.default_rng(0).uniform(0, 255, (5, 8, 8, 3)).astype("float32")
    labels = np.array([2, 0, 1, 1, 0])
    scores, got = scores_and_labels(model, (rgb, labels), batch_size=2)
    assert scores.shape == (5, 3)
    np.testing.assert_allclose(scores, model.predict(rgb, verbose=0), atol=1e-6)
    np.testing.assert_array_equal(got, labels)
    from_dataset, got = scores_and_labels(model, tf.data.Dataset.from_tensor_slices((rgb, labels)).batch(3))
    np.testing.assert_allclose(from_dataset, scores, atol=1e-6)
    np.testing.assert_array_equal(got, labels)
    with pytest.raises(ValueError, match="carry no labels"):
        scores_and_labels(model, rgb)
