"""daylib.evaluate.intervals, .paired and .repeat against hand-computed values and published examples."""
import math
from statistics import NormalDist

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from daylib import config
from daylib.evaluate import (
    Interval,
    PairedTest,
    UndefinedMetricError,
    compare_proportions,
    mcnemar_exact,
    paired_bootstrap,
    paired_scores,
    repeat,
    score_interval,
    wilson_interval,
)
from daylib.evaluate.bootstrap import resample_indices


def _wilson_by_formula(k: int, n: int, confidence: float) -> tuple[float, float]:
    z = NormalDist().inv_cdf((1 + confidence) / 2)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def _table(both: int, only_a: int, only_b: int, neither: int) -> tuple[np.ndarray, np.ndarray]:
    """correct_a, correct_b for a paired 2x2 table (A's outcome in rows, B's in columns)."""
    a = np.array([True] * both + [True] * only_a + [False] * only_b + [False] * neither)
    b = np.array([True] * both + [False] * only_a + [True] * only_b + [False] * neither)
    return a, b


# --- intervals -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("k, n, confidence", [(9, 100, 0.95), (3, 7, 0.95), (9, 100, 0.90), (50, 60, 0.99)])
def test_wilson_interval_is_the_formula(k, n, confidence):
    interval = wilson_interval(k, n, confidence)
    assert (interval.low, interval.high) == pytest.approx(_wilson_by_formula(k, n, confidence), abs=1e-12)
    assert interval.estimate == k / n and interval.n == n and interval.method == "Wilson"


def test_wilson_interval_of_9_in_100_and_of_none_and_all():
    interval = wilson_interval(9, 100)
    assert (interval.low, interval.high) == pytest.approx((0.04807, 0.16226), abs=1e-5)
    assert str(interval) == "0.090 (95% CI 0.048-0.162, Wilson, n=100)"
    assert interval.contains(0.05) and not interval.contains(0.02)
    none, every = wilson_interval(0, 20), wilson_interval(20, 20)
    assert none.low == 0.0 and none.high == pytest.approx(_wilson_by_formula(0, 20, 0.95)[1], abs=1e-12)
    assert every.high == 1.0 and every.low == pytest.approx(_wilson_by_formula(20, 20, 0.95)[0], abs=1e-12)
    assert none.high == pytest.approx(1 - every.low, abs=1e-12)   # symmetric: 0/n mirrors n/n
    assert 0 < none.high < 0.2 and none.contains(0.0)


def test_score_interval_is_wilson_for_hits_and_a_bootstrap_of_the_mean_for_scores():
    hits = np.array([True] * 9 + [False] * 91)
    assert score_interval(hits) == wilson_interval(9, 100)
    scores = np.random.default_rng(1).beta(2, 5, size=400)
    interval = score_interval(scores, resamples=2000, seed=3)
    assert interval.estimate == pytest.approx(scores.mean()) and interval.method == "percentile bootstrap"
    assert interval.low < scores.mean() < interval.high
    normal_width = 2 * 1.959964 * scores.std(ddof=1) / math.sqrt(len(scores))   # the mean's normal-theory interval
    assert interval.high - interval.low == pytest.approx(normal_width, rel=0.1)
    assert score_interval(scores, seed=3) == score_interval(scores, seed=3)
    assert score_interval(scores, seed=3) != score_interval(scores, seed=4)
    assert score_interval(scores, 0.5, seed=3).high - score_interval(scores, 0.5, seed=3).low < normal_width / 2


def test_a_single_score_has_a_point_interval_with_a_note_not_nan():
    interval = score_interval([0.3])
    assert (interval.low, interval.high, interval.n) == (0.3, 0.3, 1)
    assert "one value" in interval.note and "one value" in str(interval)


def test_fisher_p_of_9_in_100_against_2_in_100_is_the_hypergeometric_sum():
    # Margins fixed: 11 hits among 200 images, 100 in each group. P(x hits in group 1) is hypergeometric;
    # the two-sided p adds every table no more likely than the observed one (x = 9).
    def probability(x):
        return math.comb(100, x) * math.comb(100, 11 - x) / math.comb(200, 11)

    observed = probability(9)
    by_hand = sum(probability(x) for x in range(12) if probability(x) <= observed * (1 + 1e-9))
    result = compare_proportions(9, 100, 2, 100, names=("Grad-CAM", "random maps"), quantity="pointing game")
    assert result.p_value == pytest.approx(by_hand, rel=1e-9)
    assert result.p_value == pytest.approx(0.0582, abs=1e-4)
    assert result.first == wilson_interval(9, 100) and result.second == wilson_interval(2, 100)
    assert result.estimate == pytest.approx(0.07)
    assert str(result).startswith("pointing game: Grad-CAM 0.090 (0.048-0.162, n=100) vs random maps 0.020")
    assert "Fisher's exact p = 0.058" in str(result)
    # the Newcombe interval excludes 0 while Fisher's p is above 0.05: the sentence says both
    assert result.conclusion().startswith("no difference shown (p = 0.058)") and "borderline" in result.conclusion()
    assert result.conclusion(alpha=0.1).startswith("Grad-CAM is better than random maps (p = 0.058)")


def test_newcombe_interval_of_independent_proportions_matches_the_published_example():
    # Fagerland, Lydersen & Laake (2017), ch. 4, Perondi et al. (2004): 7/34 vs 1/34 -> 0.1765 (0.0189 to 0.3404)
    result = compare_proportions(7, 34, 1, 34)
    assert (result.interval.low, result.interval.high) == pytest.approx((0.0189, 0.3404), abs=1e-4)
    assert result.conclusion(alpha=0.1).startswith("A is better than B (p = 0.054)")
    lower_better = compare_proportions(7, 34, 1, 34, higher_is_better=False)
    assert lower_better.conclusion(alpha=0.1).startswith("B is better than A (p = 0.054)")


def test_two_equal_proportions_show_no_difference():
    result = compare_proportions(0, 10, 0, 10)
    assert result.p_value == 1.0 and result.estimate == 0.0 and result.interval.contains(0.0)
    assert result.conclusion().startswith("no difference shown (p = 1.000)")


# --- paired ----------------------------------------------------------------------------------------------------

def test_mcnemar_exact_p_is_the_binomial_tail_of_the_discordant_pairs():
    a, b = _table(both=10, only_a=1, only_b=6, neither=3)
    test = mcnemar_exact(a, b, names=("frozen", "fine-tuned"))
    assert (test.b, test.c, test.n) == (1, 6, 20)
    assert test.p_value == pytest.approx(2 * (math.comb(7, 0) + math.comb(7, 1)) / 2 ** 7)   # 0.125
    assert test.estimate == pytest.approx((1 - 6) / 20)
    assert test.interval.contains(test.estimate) and test.interval.method == "Newcombe"
    assert str(test) == (f"accuracy frozen - fine-tuned = -0.250 (95% CI {test.interval.low:+.3f} to "
                         f"{test.interval.high:+.3f}, Newcombe); exact McNemar p = 0.125; n=20, b=1, c=6")
    assert test.conclusion().startswith("no difference shown (p = 0.125)")
    # b=0, c=9: p = 2 / 2^9
    a, b = _table(both=5, only_a=0, only_b=9, neither=1)
    test = mcnemar_exact(a, b, names=("frozen", "fine-tuned"))
    assert test.p_value == pytest.approx(2 / 2 ** 9)
    assert test.conclusion() == "fine-tuned is better than frozen (p = 0.004)."


def test_mcnemar_interval_matches_newcombes_paired_method_on_a_published_table():
    # Fagerland et al. (2017), ch. 8, Cavo et al. (2012): [[59, 6], [16, 80]] -> -0.0621 (-0.1186 to -0.0046)
    test = mcnemar_exact(*_table(both=59, only_a=6, only_b=16, neither=80))
    assert test.estimate == pytest.approx(-0.0621, abs=1e-4)
    assert (test.interval.low, test.interval.high) == pytest.approx((-0.1186, -0.0046), abs=1e-4)
    # its exact McNemar p is 2 * P(X <= 6), X ~ Binomial(22, 1/2)
    assert test.p_value == pytest.approx(2 * sum(math.comb(22, k) for k in range(7)) / 2 ** 22)


def test_no_discordant_pairs_give_p_1_with_a_note():
    a, _ = _table(both=8, only_a=0, only_b=0, neither=2)
    test = mcnemar_exact(a, a)
    assert (test.p_value, test.estimate, test.b, test.c) == (1.0, 0.0, 0, 0)
    assert "no discordant pairs" in test.note and "no discordant pairs" in test.conclusion()
    assert test.interval.low < 0 < test.interval.high


def _auc_difference_by_sklearn(y, s_a, s_b, indices):
    differences = []
    for rows in indices:
        if len(set(y[rows])) == 2:
            differences.append(roc_auc_score(y[rows], s_a[rows]) - roc_auc_score(y[rows], s_b[rows]))
    return np.array(differences)


def test_paired_bootstrap_is_the_same_resamples_scored_for_both_models():
    rng = np.random.default_rng(5)
    y = np.array([0, 1] * 12 + [1] * 4)
    s_a, s_b = rng.random(len(y)) + 0.4 * y, rng.random(len(y)) + 0.2 * y
    test = paired_bootstrap(y, s_a, s_b, "auc", resamples=80, seed=9)
    reference = _auc_difference_by_sklearn(y, s_a, s_b, resample_indices(len(y), 80, 9))
    assert test.estimate == pytest.approx(roc_auc_score(y, s_a) - roc_auc_score(y, s_b), abs=1e-12)
    low, high = np.quantile(reference, [0.025, 0.975])
    assert (test.interval.low, test.interval.high) == pytest.approx((low, high), abs=1e-12)
    below, above = ((np.sum(reference <= 0) + 1) / 81, (np.sum(reference >= 0) + 1) / 81)
    assert test.p_value == pytest.approx(min(1.0, 2 * min(below, above)), abs=1e-12)
    assert test.quantity == "ROC AUC" and test.method == "paired bootstrap" and test.n == len(y)


def test_paired_bootstrap_of_a_model_against_itself_is_exactly_zero():
    # resampling the two models' cases independently would give a spread around 0
    rng = np.random.default_rng(0)
    y, s = rng.integers(0, 2, 60), rng.random(60)
    test = paired_bootstrap(y, s, s, resamples=300)
    assert (test.estimate, test.interval.low, test.interval.high, test.p_value) == (0.0, 0.0, 0.0, 1.0)


def test_paired_bootstrap_covers_a_known_auc_difference():
    # Scores N(mu * y, 1) have AUC Phi(mu / sqrt 2); B's noise is correlated with A's (0.5), as for two
    # models seeing the same films. 50 test sets of 200: the 95% interval should cover the true difference
    # in about 95% of them, and rarely all of them.
    phi = NormalDist().cdf
    truth = phi(1.2 / math.sqrt(2)) - phi(0.8 / math.sqrt(2))
    rng = np.random.default_rng(2026)
    covered, significant = 0, 0
    for run in range(50):
        y = rng.integers(0, 2, 200)
        shared, own = rng.normal(size=200), rng.normal(size=200)
        s_a, s_b = 1.2 * y + shared, 0.8 * y + 0.5 * shared + math.sqrt(0.75) * own
        test = paired_bootstrap(y, s_a, s_b, resamples=400, seed=run)
        covered += test.interval.contains(truth)
        significant += test.p_value < 0.05
    assert 44 <= covered <= 50
    assert significant >= 25   # the true difference (0.088) is found in most runs (35 of 50 with these seeds)


def test_paired_bootstrap_accuracy_and_undefined_auc():
    y = np.array([0, 0, 1, 1, 1, 0, 1, 0])
    s_a, s_b = np.array([0.1, 0.2, 0.8, 0.9, 0.7, 0.3, 0.6, 0.4]), np.array([0.6, 0.2, 0.4, 0.9, 0.3, 0.3, 0.6, 0.7])
    test = paired_bootstrap(y, s_a, s_b, "accuracy", resamples=200)
    assert test.estimate == pytest.approx(1.0 - 4 / 8) and test.quantity == "accuracy"
    with pytest.raises(UndefinedMetricError, match="one class only"):
        paired_bootstrap(np.ones(6, int), s_a[:6], s_b[:6], "auc")


def test_paired_scores_use_wilcoxon_for_numbers_and_mcnemar_for_hits():
    # six images, A above B on each, differences all distinct: exact two-sided Wilcoxon p = 2 / 2^6
    a = np.array([0.62, 0.71, 0.55, 0.80, 0.66, 0.90])
    b = a - np.array([0.01, 0.02, 0.03, 0.04, 0.05, 0.06])
    test = paired_scores(a, b, names=("Grad-CAM", "CAM"), resamples=500)
    assert test.p_value == pytest.approx(2 / 2 ** 6)
    assert test.estimate == pytest.approx(0.035) and test.interval.contains(0.035)
    assert test.method == "Wilcoxon signed-rank" and test.interval.method == "paired bootstrap"
    assert test.conclusion().startswith("Grad-CAM is better than CAM (p = 0.031)")
    assert paired_scores(a, b, names=("Grad-CAM", "CAM"), higher_is_better=False).conclusion().startswith(
        "CAM is better than Grad-CAM")   # deletion AUC: lower is better
    hits_a, hits_b = _table(both=10, only_a=1, only_b=6, neither=3)
    hits = paired_scores(hits_a, hits_b)
    assert hits.quantity == "hit rate" and (hits.b, hits.c) == (1, 6) and hits.p_value == pytest.approx(0.125)


def test_identical_scores_give_p_1_with_a_note():
    test = paired_scores([0.2, 0.4, 0.5], [0.2, 0.4, 0.5])
    assert (test.p_value, test.estimate, test.interval.low, test.interval.high) == (1.0, 0.0, 0.0, 0.0)
    assert "same on every image" in test.conclusion()


def test_results_are_the_public_types():
    assert isinstance(paired_scores([0.1, 0.2], [0.0, 0.3]), PairedTest)
    assert isinstance(score_interval([0.1, 0.2]), Interval)


# --- repeat ----------------------------------------------------------------------------------------------------

def test_repeat_seeds_each_run_and_reports_mean_and_sample_std(monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(config, "seed_everything", lambda seed: calls.append(("seed", seed)))

    def experiment(seed):
        calls.append(("run", seed))
        return {"auc": 0.80 + 0.01 * seed ** 2, "accuracy": 0.7}

    runs = repeat(experiment, seeds=(0, 1, 2))
    assert calls == [("seed", 0), ("run", 0), ("seed", 1), ("run", 1), ("seed", 2), ("run", 2)]
    auc = runs["auc"]
    mean = (0.80 + 0.81 + 0.84) / 3
    std = math.sqrt(((0.80 - mean) ** 2 + (0.81 - mean) ** 2 + (0.84 - mean) ** 2) / 2)   # ddof=1
    assert (auc.mean, auc.std, auc.min, auc.max) == pytest.approx((mean, std, 0.80, 0.84))
    assert auc.values == pytest.approx((0.80, 0.81, 0.84)) and auc.seeds == (0, 1, 2)
    assert runs["accuracy"].std == 0.0
    assert str(auc) == "auc 0.817 +- 0.021 (3 seeds: 0.800, 0.810, 0.840)"
    assert runs.names == ("auc", "accuracy")
    printed = capsys.readouterr().out
    assert "seed 0 (1/3): auc 0.800, accuracy 0.700" in printed and "seed 2 (3/3)" in printed
    html = runs._repr_html_()
    assert "<th>seed 2</th>" in html and "<td>0.840</td>" in html and "<th>auc</th>" in html
    with pytest.raises(KeyError, match="'auc', 'accuracy'"):
        runs["loss"]


def test_repeat_with_the_real_seeding_repeats_a_random_experiment():
    first = repeat(lambda seed: float(np.random.rand()), seeds=(3, 4), progress=False, name="draw")
    second = repeat(lambda seed: float(np.random.rand()), seeds=(3, 4), progress=False, name="draw")
    assert first["draw"].values == second["draw"].values
    assert first["draw"].values[0] != first["draw"].values[1]
    assert first.names == ("draw",)


def test_one_seed_has_no_spread_and_a_number_gets_the_function_name(monkeypatch):
    monkeypatch.setattr(config, "seed_everything", lambda seed: None)

    def auc(seed):
        return 0.8

    runs = repeat(auc, seeds=config.pick(quick=(0,), full=(0,)), progress=False)
    assert runs["auc"].std is None
    assert str(runs) == "auc 0.800 (1 seed: 0.800; no spread from one seed)"


def test_difference_pairs_runs_by_seed(monkeypatch):
    monkeypatch.setattr(config, "seed_everything", lambda seed: None)
    tuned = repeat(lambda seed: {"auc": 0.85 + 0.01 * seed}, seeds=(0, 1, 2), progress=False)
    frozen = repeat(lambda seed: {"auc": 0.80 + 0.02 * seed}, seeds=(2, 0, 1), progress=False)
    difference = tuned.difference(frozen, names=("fine-tuned", "frozen"))
    assert difference["auc"].values == pytest.approx((0.05, 0.04, 0.03))
    assert difference["auc"].mean == pytest.approx(0.04) and difference["auc"].std == pytest.approx(0.01)
    assert str(difference).splitlines() == ["fine-tuned - frozen, paired by seed:",
                                            "  auc 0.040 +- 0.010 (3 seeds: 0.050, 0.040, 0.030)"]
    with pytest.raises(ValueError, match="different seeds"):
        tuned.difference(repeat(lambda seed: {"auc": 0.8}, seeds=(0, 1), progress=False))
    with pytest.raises(ValueError, match="different quantities"):
        tuned.difference(repeat(lambda seed: {"loss": 0.8}, seeds=(0, 1, 2), progress=False))


# --- bad input: the problem and the fix --------------------------------------------------------------------------

BOOLS = np.array([True, False, True])
BAD_INPUTS = [
    ("successes above n", lambda: wilson_interval(12, 10), "more than n", "successes <= n"),
    ("n of 0", lambda: wilson_interval(0, 0), "n must be a whole number of at least 1", "n=100"),
    ("successes a float", lambda: wilson_interval(2.5, 10), "successes must be a whole number", "successes="),
    ("confidence 95", lambda: wilson_interval(9, 100, 95), "divide by 100", "confidence=0.95"),
    ("confidence 1", lambda: score_interval([0.1, 0.2], 1.0), "within (0, 1)", "confidence=0.95"),
    ("NaN score", lambda: score_interval([0.1, np.nan]), "NaN", "drop or fix"),
    ("scores as a grid", lambda: score_interval(np.zeros((2, 3))), "shape (2, 3)", "curve.auc"),
    ("no scores", lambda: score_interval([]), "empty", "nothing to summarise"),
    ("text scores", lambda: score_interval(["a", "b"]), "expected numbers", "one per image"),
    ("resamples 0", lambda: score_interval([0.1, 0.2], resamples=0), "resamples must be", "resamples=2000"),
    ("counts above n", lambda: compare_proportions(5, 4, 1, 4), "more than n", "successes <= n"),
    ("one name", lambda: compare_proportions(1, 4, 1, 4, names="Grad-CAM"), "one string", "names=["),
    ("0/1 for McNemar", lambda: mcnemar_exact([1, 0, 1], [1, 1, 0]), "not booleans", "(predicted_labels == y_true)"),
    ("McNemar lengths", lambda: mcnemar_exact(BOOLS, BOOLS[:2]), "correct_b has 2", "same test items"),
    ("alpha 5", lambda: mcnemar_exact(BOOLS, BOOLS).conclusion(alpha=5), "alpha must be within (0, 1)", "alpha=0.05"),
    ("scores_b short", lambda: paired_bootstrap([0, 1, 1], [0.2, 0.6, 0.7], [0.2, 0.6]), "scores_b: scores has 2 rows",
     "one score"),
    ("unknown metric", lambda: paired_bootstrap([0, 1], [0.2, 0.6], [0.2, 0.6], "kappa"), "Unknown metric", "use one of"),
    ("hits and numbers", lambda: paired_scores(BOOLS, [0.1, 0.2, 0.3]), "values_a holds booleans", "same score"),
    ("NaN paired score", lambda: paired_scores([0.1, np.nan], [0.1, 0.2]), "values_a contains 1 NaN", "drop or fix"),
    ("paired lengths", lambda: paired_scores([0.1, 0.2], [0.1]), "values_b has 1", "same test items"),
    ("seeds a count", lambda: repeat(lambda s: 1.0, seeds=3), "one value", "seeds=range(3)"),
    ("no seeds", lambda: repeat(lambda s: 1.0, seeds=()), "empty", "config.pick"),
    ("seed twice", lambda: repeat(lambda s: 1.0, seeds=(0, 0)), "repeats [0]", "distinct seeds"),
    ("negative seed", lambda: repeat(lambda s: 1.0, seeds=(-1,)), "seeds[0] must be", "seeds[0]=0"),
    ("NaN result", lambda: repeat(lambda s: {"loss": float("nan")}, seeds=(0,), progress=False), "returned nan for 'loss'",
     "diverged"),
    ("text result", lambda: repeat(lambda s: "good", seeds=(0,), progress=False), "returned 'good'", "dict of numbers"),
    ("names change", lambda: repeat(lambda s: {"auc": 1.0} if s == 0 else {"acc": 1.0}, seeds=(0, 1), progress=False),
     "experiment(1) returned ['acc']", "same quantities"),
]


@pytest.mark.parametrize("label, call, problem, fix", BAD_INPUTS, ids=[case[0] for case in BAD_INPUTS])
def test_bad_input_names_the_problem_and_the_fix(label, call, problem, fix):
    with pytest.raises(ValueError) as raised:
        call()
    assert problem in str(raised.value) and fix in str(raised.value), str(raised.value)
