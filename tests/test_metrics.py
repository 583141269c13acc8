"""Tests for w2sg.metrics against independent formulas, hand-worked cases and properties."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from w2sg import metrics as M

# ---------------------------------------------------------------- independent references


def auroc_by_pairs(scores, labels):
    pos = [s for s, y in zip(scores, labels) if y == 1]
    neg = [s for s, y in zip(scores, labels) if y == 0]
    wins = sum((a > b) + 0.5 * (a == b) for a in pos for b in neg)
    return wins / (len(pos) * len(neg))


def ece_by_loops(probs, labels, n_bins):
    width = 0.5 / n_bins
    total = 0.0
    for b in range(n_bins):
        lo, hi = 0.5 + b * width, (0.5 + (b + 1) * width) if b < n_bins - 1 else math.inf
        members = [
            (max(p, 1 - p), float((p > 0.5) == (y == 1)))
            for p, y in zip(probs, labels)
            if (lo < max(p, 1 - p) <= hi) or (b == 0 and max(p, 1 - p) == 0.5)
        ]
        if members:
            conf = sum(m[0] for m in members) / len(members)
            acc = sum(m[1] for m in members) / len(members)
            total += len(members) / len(probs) * abs(acc - conf)
    return total


probs_and_labels = st.integers(2, 40).flatmap(
    lambda n: st.tuples(
        arrays(np.float64, n, elements=st.floats(0, 1)),
        arrays(np.int64, n, elements=st.integers(0, 1)),
    )
)


# ---------------------------------------------------------------- accuracy


def test_accuracy_hand_worked_and_binomial_se():
    acc = M.accuracy([0.9, 0.2, 0.6, 0.4, 0.5], [1, 0, 0, 0, 1])
    # predictions 1,0,1,0,0 (0.5 -> 0): correct, correct, wrong, correct, wrong
    assert acc.mean == pytest.approx(0.6)
    assert acc.standard_error == pytest.approx(math.sqrt(0.6 * 0.4 / 5))
    mean, se = M.accuracy(np.ones(3), np.ones(3))
    assert (mean, se) == (1.0, 0.0)


# ---------------------------------------------------------------- AUROC


def test_auroc_hand_worked_with_ties():
    # pairs (pos, neg): (0.35,0.1)=1, (0.35,0.4)=0, (0.35,0.35)=0.5, (0.8,*)=3 -> 4.5 / 6
    assert M.auroc([0.1, 0.4, 0.35, 0.35, 0.8], [0, 0, 0, 1, 1]) == pytest.approx(4.5 / 6)
    assert M.auroc([0.0, 1.0], [0, 1]) == 1.0
    assert M.auroc([3.0, 3.0, 3.0], [0, 1, 1]) == 0.5


@given(probs_and_labels)
@settings(max_examples=100, deadline=None)
def test_auroc_matches_pair_counting_and_flips(data):
    scores, labels = data
    assume(0 < labels.sum() < labels.size)
    scores = np.round(scores, 1)  # force ties
    value = M.auroc(scores, labels)
    assert 0.0 <= value <= 1.0
    assert value == pytest.approx(auroc_by_pairs(scores, labels), abs=1e-12)
    assert M.auroc(-scores, labels) == pytest.approx(1.0 - value, abs=1e-12)
    assert M.auroc(scores, 1 - labels) == pytest.approx(1.0 - value, abs=1e-12)
    # invariant under a monotone transform (probabilities -> logits)
    clipped = np.clip(scores, 1e-6, 1 - 1e-6)
    assert M.auroc(np.log(clipped) - np.log1p(-clipped), labels) == pytest.approx(M.auroc(clipped, labels), abs=1e-12)


def test_auroc_single_class_is_an_error():
    with pytest.raises(ValueError, match="both classes 0 and 1.*Got only class 1 in 3 labels"):
        M.auroc([0.1, 0.2, 0.3], [1, 1, 1])


# ---------------------------------------------------------------- cross-entropy and ECE


def test_cross_entropy_against_formula_and_clipping():
    p, y = np.array([0.9, 0.2, 0.6]), np.array([1, 0, 0])
    expected = -(np.log(0.9) + np.log(0.8) + np.log(0.4)) / 3
    assert M.cross_entropy(p, y) == pytest.approx(expected)
    # confidently wrong costs -log(eps), not infinity
    assert M.cross_entropy([1.0, 0.0], [0, 1]) == pytest.approx(-math.log(1e-12), rel=1e-9)
    assert M.cross_entropy([1.0], [0], eps=1e-3) == pytest.approx(-math.log(1e-3), rel=1e-9)
    assert M.cross_entropy([1.0, 0.0], [1, 0]) == pytest.approx(1e-12, abs=1e-12)
    with pytest.raises(ValueError, match="`eps` of cross_entropy must be a float in \\(0, 0.5\\). Got 0"):
        M.cross_entropy(p, y, eps=0)


def test_ece_hand_worked():
    # confidences 0.95, 0.95, 0.75, 0.65; correct 1, 0, 1, 1; 5 bins of width 0.1 on [0.5, 1]
    # bin (0.6,0.7]: |1 - .65| = .35 ; bin (0.7,0.8]: |1 - .75| = .25 ; bin (0.9,1]: 2 * |0.5 - .95| = .9
    value = M.expected_calibration_error([0.95, 0.95, 0.25, 0.65], [1, 0, 0, 1], n_bins=5)
    assert value == pytest.approx((0.35 + 0.25 + 0.9) / 4)
    # perfectly calibrated: confidence 0.75, right 3 times out of 4
    assert M.expected_calibration_error([0.75, 0.75, 0.25, 0.25], [1, 1, 0, 1], n_bins=10) == pytest.approx(0.0)
    # a coin flip at p = 0.5 is in the first bin, predicted 0
    assert M.expected_calibration_error([0.5, 0.5], [0, 1], n_bins=3) == pytest.approx(0.0)


@given(probs_and_labels, st.integers(1, 15))
@settings(max_examples=100, deadline=None)
def test_ece_matches_loop_reference_and_bounds(data, n_bins):
    probs, labels = data
    # a 3-decimal grid shifted by 1.234e-6 stays > 3e-5 away from every edge k / (2 n_bins)
    probs = np.clip(np.round(probs, 3) + 1.234e-6, 0, 1)
    value = M.expected_calibration_error(probs, labels, n_bins=n_bins)
    assert 0.0 <= value <= 1.0
    assert value == pytest.approx(ece_by_loops(probs, labels, n_bins), abs=1e-9)


def test_agreement():
    assert M.agreement([0.9, 0.4, 0.6, 0.5], [0.7, 0.6, 0.51, 0.2]) == pytest.approx(0.75)
    with pytest.raises(ValueError, match="same length. Got 2 and 1"):
        M.agreement([0.1, 0.2], [0.3])


# ---------------------------------------------------------------- PGR


@given(
    st.floats(0, 1),
    st.floats(0, 1),
)
def test_pgr_endpoints(weak, strong):
    assume(abs(strong - weak) > 1e-6)
    assert M.performance_gap_recovered(weak, strong, strong) == pytest.approx(1.0)
    assert M.performance_gap_recovered(weak, weak, strong) == 0.0
    midpoint = (weak + strong) / 2
    assert M.performance_gap_recovered(weak, midpoint, strong) == pytest.approx(0.5)


def test_pgr_zero_gap_is_nan_with_warning_and_elementwise():
    with pytest.warns(RuntimeWarning, match="strong == weak for 1 value"):
        out = M.performance_gap_recovered(np.array([0.6, 0.7]), np.array([0.65, 0.7]), np.array([0.8, 0.7]))
    assert out[0] == pytest.approx(0.25) and math.isnan(out[1])
    with pytest.raises(ValueError, match="same shape"):
        M.performance_gap_recovered([0.6, 0.7], [0.7], [0.8, 0.9])


def test_pgr_across_seeds_per_seed_mean_and_ratio_of_means():
    weak = np.array([0.60, 0.62, 0.58, 0.61])
    w2s = np.array([0.70, 0.69, 0.66, 0.73])
    strong = np.array([0.80, 0.78, 0.79, 0.82])
    result = M.pgr_across_seeds(weak, w2s, strong)
    per_seed = (w2s - weak) / (strong - weak)
    np.testing.assert_allclose(result.per_seed, per_seed)
    assert result.mean == pytest.approx(per_seed.mean())
    assert result.standard_error == pytest.approx(per_seed.std(ddof=1) / 2)
    mean, se, seeds = result  # unpacks as a triple
    assert (mean, se) == (result.mean, result.standard_error) and seeds is result.per_seed
    num, den = w2s - weak, strong - weak
    r = num.mean() / den.mean()
    assert result.ratio_of_means == pytest.approx(r)
    # delta method by hand: Var(N - R D) / (n Dbar^2)
    assert result.ratio_of_means_standard_error == pytest.approx(
        np.std(num - r * den, ddof=1) / math.sqrt(4) / den.mean()
    )
    d = result.to_dict()
    assert json.loads(json.dumps(d)) == d and d["n_seeds"] == 4


def test_pgr_bootstrap_is_seeded_and_close_to_delta():
    rng = np.random.default_rng(0)
    weak = 0.6 + 0.01 * rng.normal(size=30)
    strong = 0.8 + 0.01 * rng.normal(size=30)
    w2s = 0.7 + 0.01 * rng.normal(size=30)
    a = M.pgr_ratio_of_means(weak, w2s, strong, method="bootstrap", n_bootstrap=4000, seed=3)
    b = M.pgr_ratio_of_means(weak, w2s, strong, method="bootstrap", n_bootstrap=4000, seed=3)
    delta = M.pgr_ratio_of_means(weak, w2s, strong)
    assert a == b
    assert a.mean == delta.mean
    assert a.standard_error == pytest.approx(delta.standard_error, rel=0.15)


def test_pgr_across_seeds_edges():
    one = M.pgr_across_seeds([0.6], [0.7], [0.8])
    assert one.mean == pytest.approx(0.5) and math.isnan(one.standard_error)
    assert math.isnan(one.ratio_of_means_standard_error)
    with pytest.warns(RuntimeWarning, match="strong == weak in 1 of 2 seed"):
        res = M.pgr_across_seeds([0.6, 0.7], [0.7, 0.7], [0.8, 0.7])
    assert math.isnan(res.mean) and res.ratio_of_means == pytest.approx(0.1 / 0.2)
    assert res.to_dict()["mean"] is None
    with pytest.raises(ValueError, match="one value per seed each. Got lengths 2, 1 and 2"):
        M.pgr_across_seeds([0.6, 0.7], [0.7], [0.8, 0.9])
    with pytest.raises(ValueError, match="`method` of pgr_ratio_of_means must be 'delta' or 'bootstrap'"):
        M.pgr_across_seeds([0.6, 0.7], [0.7, 0.7], [0.8, 0.9], method="jackknife")


# ---------------------------------------------------------------- seeds statistics


def test_mean_and_standard_error():
    est = M.mean_and_standard_error([1.0, 2.0, 4.0])
    assert est.mean == pytest.approx(7 / 3)
    assert est.standard_error == pytest.approx(math.sqrt(((1 - 7 / 3) ** 2 + (2 - 7 / 3) ** 2 + (4 - 7 / 3) ** 2) / 2 / 3))
    single = M.mean_and_standard_error([5.0])
    assert single.mean == 5.0 and math.isnan(single.standard_error)


def test_paired_test_against_t_formula():
    from scipy.stats import t as student_t

    a = np.array([0.81, 0.83, 0.80, 0.84, 0.79])
    b = np.array([0.80, 0.81, 0.80, 0.82, 0.80])
    d = a - b
    t_stat = d.mean() / (d.std(ddof=1) / math.sqrt(d.size))
    assert M.paired_test(a, b) == pytest.approx(2 * student_t.sf(abs(t_stat), d.size - 1))
    assert M.paired_test(a, b, alternative="greater") == pytest.approx(student_t.sf(t_stat, d.size - 1))
    assert M.paired_test(a, b, alternative="less") == pytest.approx(student_t.cdf(t_stat, d.size - 1))
    # degenerate: identical differences
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert M.paired_test([1.0, 2.0], [1.0, 2.0]) == 1.0
        assert M.paired_test([1.1, 2.1], [1.0, 2.0]) == 0.0
        assert M.paired_test([1.1, 2.1], [1.0, 2.0], alternative="less") == 1.0
    with pytest.raises(ValueError, match="at least 2 pairs. Got 1"):
        M.paired_test([1.0], [2.0])


# ---------------------------------------------------------------- input validation


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: M.accuracy([0.5, 1.2], [0, 1]), ValueError, "`probs` of accuracy must be probabilities in \\[0, 1\\]. Got 1.2 at row 1"),
        (lambda: M.accuracy([0.5, 0.7], [0, 2]), ValueError, "`labels` of accuracy must be 0 or 1. Got 2.0 at row 1"),
        (lambda: M.accuracy([0.5, 0.7], [0]), ValueError, "same length as the predictions \\(2\\). Got 1"),
        (lambda: M.accuracy([], []), ValueError, "at least one value"),
        (lambda: M.auroc([0.1, float("nan")], [0, 1]), ValueError, "`scores` of auroc must be finite. Got nan at row 1"),
        (lambda: M.cross_entropy([[0.5]], [[1]]), ValueError, "1-D array. Got shape \\(1, 1\\)"),
        (lambda: M.expected_calibration_error([0.5], [1], n_bins=0), ValueError, "`n_bins` of expected_calibration_error must be an integer >= 1"),
        (lambda: M.mean_and_standard_error(["a"]), TypeError, "`values` of mean_and_standard_error must be a 1-D array of numbers"),
        (lambda: M.paired_test([1.0, 2.0], [1.0, 2.0], alternative="bigger"), ValueError, "`alternative` of paired_test"),
        (lambda: M.performance_gap_recovered(0.5, float("inf"), 0.7), ValueError, "`w2s` of performance_gap_recovered must be finite"),
    ],
)
def test_error_paths(call, error, match):
    with pytest.raises(error, match=match):
        call()
