"""Tests for w2sg.theory.ce: CE/RCE/KL/RKL, logit gradients (Eqs. 34-37) and Proposition 2."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from w2sg.theory import ce

LN2 = math.log(2.0)


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _simplex(k: int, min_value: float = 0.0):
    return hnp.arrays(np.float64, k, elements=st.floats(min_value=min_value + 1e-3, max_value=1.0)).map(
        lambda v: v / v.sum()
    )


# ------------------------------------------------------------------------------------ values


def test_hand_worked_values() -> None:
    p, q = [0.25, 0.75], [0.5, 0.5]
    assert float(ce.cross_entropy(p, q)) == pytest.approx(LN2)
    assert float(ce.entropy(p)) == pytest.approx(-(0.25 * math.log(0.25) + 0.75 * math.log(0.75)))
    assert float(ce.kl_divergence(p, q)) == pytest.approx(0.25 * math.log(0.5) + 0.75 * math.log(1.5))
    assert float(ce.reverse_cross_entropy(p, q)) == pytest.approx(-0.5 * math.log(0.25) - 0.5 * math.log(0.75))
    assert float(ce.reverse_kl(p, q)) == pytest.approx(0.5 * math.log(2.0) + 0.5 * math.log(0.5 / 0.75))
    # Uniform over k classes has entropy log k.
    assert float(ce.entropy(np.full(5, 0.2))) == pytest.approx(math.log(5))


def test_zero_probability_conventions() -> None:
    one_hot = [1.0, 0.0]
    # 0 log 0 = 0.
    assert float(ce.entropy(one_hot)) == 0.0
    assert float(ce.cross_entropy(one_hot, [0.5, 0.5])) == pytest.approx(LN2)
    # A zero under a weighted log is infinite unless clamped.
    assert float(ce.cross_entropy([0.5, 0.5], one_hot)) == math.inf
    assert float(ce.kl_divergence([0.5, 0.5], one_hot)) == math.inf
    assert float(ce.reverse_cross_entropy(one_hot, [0.5, 0.5])) == math.inf
    # Wang et al. A = -4 and PyTorch's -100 clamp.
    assert float(ce.reverse_cross_entropy(one_hot, [0.5, 0.5], log_zero=-4)) == pytest.approx(2.0)
    assert float(ce.reverse_cross_entropy(one_hot, [0.3, 0.7], log_zero=-100)) == pytest.approx(70.0)
    assert float(ce.reverse_kl(one_hot, [0.5, 0.5], log_zero=-4)) == pytest.approx(2.0 - LN2)
    # Clamp also floors tiny probabilities: log(1e-3) = -6.9 < -4.
    assert float(ce.cross_entropy([0.0, 1.0], [0.999, 0.001], log_zero=-4)) == pytest.approx(4.0)


@settings(max_examples=80, deadline=None)
@given(st.integers(2, 6).flatmap(lambda k: st.tuples(_simplex(k), _simplex(k))))
def test_identities_ce_kl_entropy(pq: tuple[np.ndarray, np.ndarray]) -> None:
    p, q = pq
    assert float(ce.cross_entropy(p, q)) == pytest.approx(float(ce.kl_divergence(p, q) + ce.entropy(p)), abs=1e-10)
    assert float(ce.reverse_cross_entropy(p, q)) == pytest.approx(
        float(ce.reverse_kl(p, q) + ce.entropy(q)), abs=1e-10
    )
    assert float(ce.reverse_kl(p, q)) == pytest.approx(float(ce.kl_divergence(q, p)), abs=1e-12)
    assert float(ce.kl_divergence(p, q)) >= 0.0
    assert float(ce.kl_divergence(p, p)) == pytest.approx(0.0, abs=1e-12)


def test_identities_with_one_hot_and_clamp() -> None:
    p = np.array([[1.0, 0.0, 0.0], [0.2, 0.0, 0.8]])
    q = np.array([[0.2, 0.3, 0.5], [0.1, 0.6, 0.3]])
    rce = ce.reverse_cross_entropy(p, q, log_zero=-4.0)
    np.testing.assert_allclose(rce, ce.reverse_kl(p, q, log_zero=-4.0) + ce.entropy(q), rtol=1e-12)
    np.testing.assert_allclose(ce.cross_entropy(p, q), ce.kl_divergence(p, q) + ce.entropy(p), rtol=1e-12)


def test_broadcasting_and_batch_shapes() -> None:
    p = np.full((4, 3, 2), 0.5)
    q = np.array([0.2, 0.8])
    out = ce.cross_entropy(p, q)
    assert out.shape == (4, 3)
    np.testing.assert_allclose(out, -0.5 * (math.log(0.2) + math.log(0.8)))


def test_low_precision_inputs() -> None:
    ml_dtypes = pytest.importorskip("ml_dtypes")
    p = np.array([0.3, 0.7], dtype=ml_dtypes.bfloat16)
    q = np.array([0.5, 0.5], dtype=np.float16)
    # bfloat16 rounds 0.3/0.7 to 0.30078/0.69922 (still sums to 1 within bf16 precision).
    p64 = p.astype(np.float64)
    assert float(ce.cross_entropy(p, q)) == pytest.approx(LN2 * p64.sum(), rel=1e-6)
    assert float(ce.entropy(p)) == pytest.approx(-np.sum(p64 * np.log(p64)), rel=1e-12)
    with pytest.raises(ValueError, match="summing to 1"):
        ce.cross_entropy(np.array([0.3, 0.8]), q)


# ------------------------------------------------------------------------------------ gradients


def _loss_of_logits(name: str, p: np.ndarray, log_zero=None):
    if name == "ce":
        return lambda z: float(ce.cross_entropy(p, _softmax(z)))
    if name == "kl":
        return lambda z: float(ce.kl_divergence(p, _softmax(z)))
    if name == "rce":
        return lambda z: float(ce.reverse_cross_entropy(p, _softmax(z), log_zero=log_zero))
    return lambda z: float(ce.reverse_kl(p, _softmax(z), log_zero=log_zero))


def _central_difference(f, z: np.ndarray, h: float = 1e-5) -> np.ndarray:
    grad = np.empty_like(z)
    for i in range(z.size):
        e = np.zeros_like(z)
        e[i] = h
        grad[i] = (f(z + e) - f(z - e)) / (2 * h)
    return grad


GRADS = {"ce": ce.grad_ce_logits, "kl": ce.grad_kl_logits, "rce": ce.grad_rce_logits, "rkl": ce.grad_rkl_logits}


@pytest.mark.parametrize("k", [2, 3, 5])
@pytest.mark.parametrize("name", list(GRADS))
def test_logit_gradients_match_finite_differences(k: int, name: str) -> None:
    rng = np.random.default_rng(k)
    for _ in range(5):
        z = rng.normal(scale=2.0, size=k)
        p = rng.dirichlet(np.ones(k))
        expected = _central_difference(_loss_of_logits(name, p), z)
        np.testing.assert_allclose(GRADS[name](z, p), expected, atol=1e-7, rtol=1e-6)


@pytest.mark.parametrize("name", ["rce", "rkl"])
def test_clamped_gradients_match_finite_differences_with_one_hot_teacher(name: str) -> None:
    p = np.array([0.0, 1.0, 0.0])
    z = np.array([0.3, -0.2, 1.1])
    expected = _central_difference(_loss_of_logits(name, p, log_zero=-4.0), z)
    np.testing.assert_allclose(GRADS[name](z, p, log_zero=-4.0), expected, atol=1e-7)
    with pytest.raises(ValueError, match="log_zero"):
        GRADS[name](z, p)


def test_gradient_limits_at_q_equal_p() -> None:
    p = np.array([0.2, 0.3, 0.5])
    z = np.log(p)
    np.testing.assert_allclose(ce.grad_ce_logits(z, p), 0.0, atol=1e-15)
    np.testing.assert_allclose(ce.grad_rkl_logits(z, p), 0.0, atol=1e-15)
    # Eq. (36) at q = p: -p_i (log p_i + H(p)), non-zero for a non-uniform p.
    h = float(ce.entropy(p))
    np.testing.assert_allclose(ce.grad_rce_logits(z, p), -p * (np.log(p) + h), atol=1e-15)


def test_gradients_at_extreme_logits_are_finite() -> None:
    z = np.array([[800.0, -800.0, 0.0]])
    p = np.array([[0.2, 0.3, 0.5]])
    for fn in GRADS.values():
        out = fn(z, p)
        assert np.all(np.isfinite(out))
    np.testing.assert_allclose(ce.grad_ce_logits(z, p), [[0.8, -0.3, -0.5]], atol=1e-12)
    # q is one-hot on class 0: RKL gradient q_i(log q_i/p_i - KL) vanishes.
    np.testing.assert_allclose(ce.grad_rkl_logits(z, p), 0.0, atol=1e-12)


@pytest.mark.parametrize("y", [0.1, 0.5, 0.73, 0.99])
@pytest.mark.parametrize("z", [-3.0, 0.0, 0.4, 2.5])
def test_binary_sigmoid_forms_match_two_class_losses(y: float, z: float) -> None:
    p = np.array([1 - y, y])

    def two_class(name):
        f = _loss_of_logits(name, p)
        return lambda t: f(np.array([0.0, t[0]]))  # z = l1 - l0 with l0 = 0

    zz = np.array([z])
    assert float(ce.grad_bce_logit(z, y)) == pytest.approx(_central_difference(two_class("ce"), zz)[0], abs=1e-7)
    assert float(ce.grad_rbce_logit(z, y)) == pytest.approx(_central_difference(two_class("rce"), zz)[0], abs=1e-7)
    assert float(ce.grad_binary_rkl_logit(z, y)) == pytest.approx(
        _central_difference(two_class("rkl"), zz)[0], abs=1e-7
    )
    # Binary forms agree with the k = 2 softmax forms on the positive logit.
    assert float(ce.grad_rbce_logit(z, y)) == pytest.approx(float(ce.grad_rce_logits([0.0, z], p)[1]), abs=1e-12)


def test_binary_forms_hard_labels_and_extremes() -> None:
    # Hard labels need a clamp: logit(1) becomes 0 - (-100) = 100.
    assert float(ce.grad_rbce_logit(0.0, 1.0, log_zero=-100)) == pytest.approx(-0.25 * 100)
    with pytest.raises(ValueError, match="log_zero"):
        ce.grad_rbce_logit(0.0, 1.0)
    # Extreme logits: s(1-s) underflows gracefully to 0, BCE gradient stays s - y.
    assert float(ce.grad_rbce_logit(1000.0, 0.3)) == 0.0
    assert float(ce.grad_bce_logit(-1000.0, 0.3)) == pytest.approx(-0.3)
    assert float(ce.grad_binary_rkl_logit(50.0, 0.5)) == pytest.approx(math.exp(-50) * 50, rel=1e-9)


# ------------------------------------------------------------------------------------ Proposition 2


def test_smooth_labels_values() -> None:
    np.testing.assert_allclose(ce.smooth_labels([0.9, 0.2], 0.5), [0.7, 0.35])
    np.testing.assert_allclose(ce.smooth_labels([1.0, 0.0, 0.0], 0.4, k=3), [0.6, 0.2, 0.2])
    np.testing.assert_allclose(ce.smooth_labels([0.9], 0.0), [0.5])
    np.testing.assert_allclose(ce.smooth_labels([0.9], 1.0), [0.9])


@settings(max_examples=50, deadline=None)
@given(st.integers(2, 5).flatmap(lambda k: _simplex(k)), st.floats(0.01, 1.0))
def test_smoothing_keeps_argmax_and_the_simplex(p: np.ndarray, alpha: float) -> None:
    out = ce.smooth_labels(p, alpha, k=p.size)
    assert out.sum() == pytest.approx(1.0)
    assert np.argmax(out) == np.argmax(p)


def _grid_simplex(k: int, steps: int) -> np.ndarray:
    if k == 2:
        t = np.linspace(0.0, 1.0, steps + 1)
        return np.stack([1 - t, t], axis=-1)
    pts = [(i, j, steps - i - j) for i in range(steps + 1) for j in range(steps + 1 - i)]
    return np.asarray(pts, dtype=float) / steps


@pytest.mark.parametrize(
    ("label", "steps"),
    [([0.3, 0.7], 2000), ([0.0, 1.0], 2000), ([0.55, 0.45], 2000), ([0.2, 0.5, 0.3], 100), ([0.0, 0.0, 1.0], 100)],
)
def test_proposition2_by_brute_force(label: list[float], steps: int) -> None:
    y = np.asarray(label)
    grid = _grid_simplex(y.size, steps)
    rce_mins, ce_mins = [], []
    for alpha in (1.0, 0.5, 0.1):
        smoothed = ce.smooth_labels(y, alpha, k=y.size)
        rce_risk = ce.reverse_cross_entropy(smoothed, grid, log_zero=-1e6)
        with np.errstate(all="ignore"):
            ce_risk = ce.cross_entropy(smoothed, grid)
        best_rce, best_ce = grid[np.argmin(rce_risk)], grid[np.argmin(ce_risk)]
        np.testing.assert_allclose(ce.rce_minimiser(y, alpha), best_rce, atol=1e-12)
        np.testing.assert_allclose(ce.ce_minimiser(y, alpha), best_ce, atol=1.0 / steps)
        rce_mins.append(ce.rce_minimiser(y, alpha))
        ce_mins.append(ce.ce_minimiser(y, alpha))
    # RCE minimiser invariant over alpha; the CE minimiser moves.
    np.testing.assert_array_equal(rce_mins[0], rce_mins[1])
    np.testing.assert_array_equal(rce_mins[0], rce_mins[2])
    assert np.abs(ce_mins[0] - ce_mins[2]).max() > 0.04


def test_rce_minimiser_ties_and_uniform_limit() -> None:
    np.testing.assert_allclose(ce.rce_minimiser([[0.5, 0.5]], 1.0), [[0.5, 0.5]])
    np.testing.assert_allclose(ce.rce_minimiser([[0.9, 0.1]], 0.0), [[0.5, 0.5]])
    np.testing.assert_allclose(ce.rce_minimiser([[0.4, 0.4, 0.2]], 0.7), [[0.5, 0.5, 0.0]])


def test_smoothing_table_summary() -> None:
    alphas = [1.0, 0.5, 0.1, 0.0]
    table = ce.smoothing_table(ce.binary_probs([0.9, 0.6, 0.2]), alphas)
    assert table.ce.shape == (4, 3, 2)
    np.testing.assert_array_equal(table.rce_shift[:3], 0.0)  # alpha > 0: unchanged
    np.testing.assert_allclose(table.rce_accuracy[:3], 1.0)
    # CE minimiser's mass on the teacher argmax: alpha * top + (1 - alpha) / 2.
    top = np.array([0.9, 0.6, 0.8])
    np.testing.assert_allclose(table.ce_accuracy, [[a * t + (1 - a) / 2 for t in top] for a in alphas])
    np.testing.assert_allclose(table.ce_shift, [[(1 - a) * (t - 0.5) for t in top] for a in alphas])
    # alpha = 0: every prediction is optimal; the tie rule gives the uniform prediction.
    np.testing.assert_allclose(table.rce_accuracy[3], 0.5)
    rows = table.rows()
    assert len(rows) == 12 and rows[4]["alpha"] == 0.5 and rows[4]["label"] == 1


# ------------------------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: ce.cross_entropy([0.5, 0.5], [0.2, 0.3, 0.5]), "same number of classes"),
        (lambda: ce.cross_entropy([1.0], [1.0]), "k >= 2"),
        (lambda: ce.cross_entropy([1.2, -0.2], [0.5, 0.5]), r"\[0, 1\]"),
        (lambda: ce.kl_divergence([0.5, np.nan], [0.5, 0.5]), "finite"),
        (lambda: ce.reverse_cross_entropy([0.5, 0.5], [0.5, 0.5], log_zero=0.0), "`log_zero`"),
        (lambda: ce.reverse_kl([0.5, 0.5], [0.5, 0.5], log_zero=float("-inf")), "`log_zero`"),
        (lambda: ce.grad_ce_logits([0.0, np.inf], [0.5, 0.5]), "`z`"),
        (lambda: ce.grad_bce_logit([0.0, 1.0], [0.5, 0.5, 0.5]), "broadcastable"),
        (lambda: ce.grad_bce_logit(0.0, 1.5), "`y`"),
        (lambda: ce.smooth_labels([0.5], 1.5), "`alpha`"),
        (lambda: ce.smooth_labels([0.5, 0.5], 0.5, k=3), "k=3"),
        (lambda: ce.smooth_labels([0.5], 0.5, k=1), "`k`"),
        (lambda: ce.rce_minimiser([[0.5, 0.6]], 0.5), "summing to 1"),
        (lambda: ce.smoothing_table([0.5, 0.5], [1.0]), r"\(N, k\)"),
        (lambda: ce.smoothing_table([[0.5, 0.5]], []), "`alphas`"),
        (lambda: ce.entropy("abc"), "`p`"),
    ],
)
def test_bad_inputs_raise_with_argument_name(call, match: str) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        call()
