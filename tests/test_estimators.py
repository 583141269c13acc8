"""Tests for w2sg.estimators: the CE bias-variance estimator (Eq. 41, Algorithm 1) and ensembles."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from w2sg.estimators import bias_variance_ce


def _kl(p: np.ndarray, q: np.ndarray) -> float:
    return float(sum(pi * math.log(pi / qi) for pi, qi in zip(p, q) if pi > 0))


def test_hand_worked_two_models_one_point():
    # pi_1 = 0.8, pi_2 = 0.5 on a positive point: mean logit = (log 4 + 0) / 2 = log 2 -> centre 2/3.
    bv = bias_variance_ce(np.array([[0.8], [0.5]]), np.array([1]))
    centre = 2.0 / 3.0
    risk = -(math.log(0.8) + math.log(0.5)) / 2
    bias = -math.log(centre)
    var = (_kl([1 - centre, centre], [0.2, 0.8]) + _kl([1 - centre, centre], [0.5, 0.5])) / 2
    assert bv.centre[0] == pytest.approx(centre, abs=1e-15)
    assert bv.risk == pytest.approx(risk, abs=1e-15)
    assert bv.bias_squared == pytest.approx(bias, abs=1e-15)
    assert bv.variance == pytest.approx(var, abs=1e-15)
    assert bv.bias_squared + bv.variance == pytest.approx(bv.risk, abs=1e-12)
    # Variance in closed form: -log Z with Z = sqrt(.8*.5) + sqrt(.2*.5).
    assert bv.variance == pytest.approx(-math.log(math.sqrt(0.4) + math.sqrt(0.1)), abs=1e-15)


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(np.float64, st.tuples(st.integers(2, 6), st.integers(1, 8)), elements=st.floats(-30, 30)),
    st.integers(0, 2**16),
)
def test_identity_holds_exactly_binary(logits, seed):
    labels = np.random.default_rng(seed).integers(0, 2, size=logits.shape[1])
    bv = bias_variance_ce(logits, labels, from_logits=True)
    np.testing.assert_allclose(bv.bias_squared_per_point + bv.variance_per_point, bv.risk_per_point, atol=1e-12, rtol=0)
    assert bv.bias_squared + bv.variance == pytest.approx(bv.risk, abs=1e-12)
    assert np.all(bv.variance_per_point >= 0) and np.all(bv.bias_squared_per_point >= 0)
    # Centre is sigma(mean logit).
    np.testing.assert_allclose(bv.centre, 1 / (1 + np.exp(-logits.mean(axis=0))), rtol=1e-12, atol=1e-15)


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 5), st.integers(1, 6), st.integers(2, 4), st.integers(0, 2**16))
def test_identity_and_explicit_kl_multiclass(m, n, k, seed):
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(k), size=(m, n))
    labels = rng.integers(0, k, size=n)
    bv = bias_variance_ce(probs, labels)
    for x in range(n):
        geo = np.exp(np.log(probs[:, x, :]).mean(axis=0))
        centre = geo / geo.sum()
        var = np.mean([_kl(centre, probs[j, x]) for j in range(m)])
        assert bv.variance_per_point[x] == pytest.approx(var, rel=1e-10, abs=1e-13)
        assert bv.bias_squared_per_point[x] == pytest.approx(-math.log(centre[labels[x]]), rel=1e-12)
        np.testing.assert_allclose(bv.centre[x], centre, rtol=1e-12)
    assert bv.bias_squared + bv.variance == pytest.approx(bv.risk, abs=1e-12)


def test_binary_equals_two_class_input():
    rng = np.random.default_rng(0)
    p = rng.uniform(0.05, 0.95, size=(4, 7))
    labels = rng.integers(0, 2, size=7)
    a = bias_variance_ce(p, labels)
    b = bias_variance_ce(np.stack([1 - p, p], axis=-1), labels)
    assert a.risk == pytest.approx(b.risk, rel=1e-12)
    assert a.variance == pytest.approx(b.variance, rel=1e-10)
    np.testing.assert_allclose(a.centre, b.centre[:, 1], rtol=1e-12)


def test_matches_bregman_kl_decomposition():
    bregman = pytest.importorskip("w2sg.bregman")
    rng = np.random.default_rng(1)
    m, n, k = 6, 5, 3
    probs = rng.dirichlet(np.ones(k) * 2, size=(m, n))
    labels = rng.integers(0, k, size=n)
    bv = bias_variance_ce(probs, labels)
    for x in range(n):
        onehot = np.eye(k)[labels[x]]
        ref = bregman.bias_variance(bregman.KL(), probs[:, x, :], onehot, slot="second")
        assert bv.risk_per_point[x] == pytest.approx(float(ref.total), rel=1e-10)
        assert bv.bias_squared_per_point[x] == pytest.approx(float(ref.bias), rel=1e-10)
        assert bv.variance_per_point[x] == pytest.approx(float(ref.variance), rel=1e-10, abs=1e-14)


def test_unbiased_scales_variance_and_bias_is_remainder():
    rng = np.random.default_rng(2)
    p = rng.uniform(0.1, 0.9, size=(6, 10))
    labels = rng.integers(0, 2, size=10)
    plug = bias_variance_ce(p, labels)
    unb = bias_variance_ce(p, labels, unbiased=True, n_subsets=3)
    assert unb.variance == pytest.approx(plug.variance * 3 / 2, rel=1e-12)
    assert unb.risk == pytest.approx(plug.risk, rel=1e-14)
    np.testing.assert_allclose(unb.bias_squared_per_point, unb.risk_per_point - unb.variance_per_point, atol=1e-14)
    assert unb.bias_squared < plug.bias_squared


def test_edges_are_finite_and_documented():
    # Probabilities at exactly 0 and 1: clipped to 1e-12, finite terms, identity still holds.
    bv = bias_variance_ce(np.array([[0.0, 1.0], [1.0, 1.0]]), np.array([1, 1]))
    assert np.all(np.isfinite(bv.risk_per_point))
    assert bv.risk_per_point[0] == pytest.approx(-math.log(1e-12) / 2, rel=1e-6)
    assert bv.bias_squared + bv.variance == pytest.approx(bv.risk, abs=1e-12)
    # Extreme logits stay exact with from_logits.
    bv = bias_variance_ce(np.array([[800.0], [-800.0]]), np.array([1]), from_logits=True)
    assert bv.risk == pytest.approx(400.0, rel=1e-12)
    assert bv.centre[0] == pytest.approx(0.5)


def test_torch_bf16_input():
    torch = pytest.importorskip("torch")
    p = torch.tensor([[0.75, 0.25], [0.5, 0.5]], dtype=torch.bfloat16)
    bv = bias_variance_ce(p, [1, 0])
    ref = bias_variance_ce(p.float().numpy(), [1, 0])
    assert bv.risk == pytest.approx(ref.risk, rel=1e-12)


@pytest.mark.parametrize(
    ("probs", "labels", "kwargs", "match"),
    [
        (np.ones((1, 3)) * 0.5, [0, 1, 0], {}, "M >= 2"),
        (np.ones((2, 0)), [], {}, "at least one test point"),
        (np.ones(3), [0, 1, 0], {}, "shape"),
        (np.full((2, 2), 1.5), [0, 1], {}, r"\[0, 1\]"),
        (np.full((2, 2), np.nan), [0, 1], {}, "finite"),
        (np.full((2, 2), 0.5), [0, 2], {}, "class indices"),
        (np.full((2, 2), 0.5), [0.5, 1], {}, "class indices"),
        (np.full((2, 2), 0.5), [0, 1, 1], {}, "labels"),
        (np.full((2, 2), 0.5), [0, 1], {"unbiased": True}, "n_subsets"),
        (np.full((3, 2), 0.5), [0, 1], {"unbiased": True, "n_subsets": 2}, "divides"),
        (np.full((2, 2, 2), 0.7), [0, 1], {}, "sum to 1"),
    ],
)
def test_bad_inputs_raise(probs, labels, kwargs, match):
    with pytest.raises(ValueError, match=match):
        bias_variance_ce(probs, labels, **kwargs)
