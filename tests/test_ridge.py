"""Tests for w2sg.theory.ridge: Example 1 and Theorem 4.1 (MATH.md §5)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate

from w2sg.theory import ridge
from w2sg.theory.ridge import g, g_a, g_b, g_trace, mp_s, simulate, student_readout, sweep

GAMMAS = [0.25, 0.5, 1.0, 2.0, 4.0]
LAMS = [0.01, 0.1, 1.0, 10.0]


def _printed_g_b(gamma: float, lam: float) -> float:
    s = math.sqrt(lam * lam + 2 * lam * (1 + gamma) + (1 - gamma) ** 2)
    return (lam * (1 + gamma) + (1 - gamma) ** 2 + (1 - gamma) * s) / (2 * s)


def _quad_b(gamma: float, lam: float) -> float:
    """g_B by quadrature against the convention-B spectral law: atom (1-gamma)_+ at 0 plus MP density."""
    lo, hi = (1 - math.sqrt(gamma)) ** 2, (1 + math.sqrt(gamma)) ** 2

    def integrand(x: float) -> float:
        return lam**2 / (x + lam) ** 2 * math.sqrt(max((hi - x) * (x - lo), 0.0)) / (2 * math.pi * x)

    cont, _ = integrate.quad(integrand, lo, hi, epsabs=1e-13, epsrel=1e-12, limit=200)
    return cont + max(1 - gamma, 0.0)


def _quad_a(c: float, lam: float) -> float:
    """g_A by quadrature against MP(c), c <= 1: density sqrt((b-x)(x-a)) / (2 pi c x)."""
    lo, hi = (1 - math.sqrt(c)) ** 2, (1 + math.sqrt(c)) ** 2

    def integrand(x: float) -> float:
        return lam**2 / (x + lam) ** 2 * math.sqrt(max((hi - x) * (x - lo), 0.0)) / (2 * math.pi * c * x)

    val, _ = integrate.quad(integrand, lo, hi, epsabs=1e-13, epsrel=1e-12, limit=200)
    return val


# ------------------------------------------------------------------------------------ closed forms


@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("lam", LAMS)
def test_g_b_matches_quadrature_with_atom(gamma: float, lam: float) -> None:
    assert float(g_b(gamma, lam)) == pytest.approx(_quad_b(gamma, lam), abs=1e-9)
    assert float(g_b(gamma, lam)) == pytest.approx(_printed_g_b(gamma, lam), rel=1e-10)


@pytest.mark.parametrize("c", [0.1, 0.25, 0.5, 0.9, 1.0])
@pytest.mark.parametrize("lam", LAMS)
def test_g_a_matches_quadrature(c: float, lam: float) -> None:
    assert float(g_a(c, lam)) == pytest.approx(_quad_a(c, lam), abs=1e-9)


@pytest.mark.parametrize("lam", [1e-6, 0.01, 0.5, 1.0, 4.0, 100.0])
def test_g_b_at_gamma_one(lam: float) -> None:
    assert float(g_b(1.0, lam)) == pytest.approx(math.sqrt(lam / (lam + 4)), rel=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    gamma=st.floats(min_value=0.05, max_value=50.0),
    lam=st.floats(min_value=1e-4, max_value=100.0),
)
def test_g_b_equals_g_a_of_inverse_ratio(gamma: float, lam: float) -> None:
    expected = float(g_b(gamma, lam))
    assert float(g_a(1.0 / gamma, lam / gamma)) == pytest.approx(expected, rel=1e-9, abs=1e-15)
    # The dispatcher takes m/d under both conventions.
    assert float(g(gamma, lam / gamma, convention="A")) == pytest.approx(expected, rel=1e-9, abs=1e-15)
    assert 0.0 <= expected <= 1.0


@pytest.mark.parametrize("gamma", [2.0, 4.0, 10.0])
def test_g_b_small_lambda_keeps_relative_accuracy(gamma: float) -> None:
    # For gamma > 1 and lam -> 0, g_B ~ lam^2 E[x^-2] with E[x^-2] = gamma / (gamma - 1)^3 (inverse
    # MP moments); the printed formula would lose every digit here to cancellation.
    lam = 1e-8
    assert float(g_b(gamma, lam)) == pytest.approx(lam**2 * gamma / (gamma - 1) ** 3, rel=1e-6)


def test_lambda_zero_limits() -> None:
    gammas = np.array([0.25, 0.5, 1.0, 2.0, 4.0])
    np.testing.assert_allclose(g_b(gammas, 0.0), np.maximum(1 - gammas, 0.0), atol=0)
    np.testing.assert_allclose(g(gammas, 0.0, convention="A"), np.maximum(1 - gammas, 0.0), atol=1e-15)
    # Continuity of the closed form into the lam = 0 branch.
    np.testing.assert_allclose(g_b(gammas, 1e-12), np.maximum(1 - gammas, 0.0), atol=1e-5)


def test_g_a_saturates_for_infinitely_wide_student() -> None:
    lams = np.array([0.1, 1.0, 3.0])
    np.testing.assert_allclose(g_a(1e-7, lams), lams**2 / (1 + lams) ** 2, rtol=1e-5)


@pytest.mark.parametrize("convention", ["A", "B"])
@pytest.mark.parametrize("lam", [0.01, 0.1, 1.0, 10.0])
def test_g_strictly_decreasing_in_width(convention: str, lam: float) -> None:
    gammas = np.geomspace(0.05, 50.0, 400)
    values = g(gammas, lam, convention=convention)
    assert np.all(np.diff(values) < 0)


def test_mp_s_formula() -> None:
    assert float(mp_s(2.0, 1.0)) == pytest.approx(math.sqrt(1 + 6 + 1))


# ------------------------------------------------------------------------------------ trace formula


@pytest.mark.parametrize("shape", [(7, 12), (12, 7), (9, 9)])
def test_g_trace_matches_explicit_inverse(shape: tuple[int, int]) -> None:
    W = np.random.default_rng(1).standard_normal(shape) / 3
    d = shape[1]
    lams = np.array([0.05, 0.7, 3.0])
    expected = [
        np.trace(lam**2 * np.linalg.matrix_power(np.linalg.inv(W.T @ W + lam * np.eye(d)), 2)) / d
        for lam in lams
    ]
    np.testing.assert_allclose(g_trace(W, lams), expected, rtol=1e-10)
    assert isinstance(g_trace(W, 0.7), float)


@pytest.mark.parametrize("convention", ["A", "B"])
@pytest.mark.parametrize("gamma", [0.5, 2.0])
def test_g_trace_close_to_closed_form(convention: str, gamma: float) -> None:
    d = 400
    m = int(gamma * d)
    scale = 1 / math.sqrt(d if convention == "B" else m)
    W = np.random.default_rng(2).standard_normal((m, d)) * scale
    lams = np.array([0.1, 1.0])
    np.testing.assert_allclose(g_trace(W, lams), g(gamma, lams, convention=convention), rtol=0.02)


# ------------------------------------------------------------------------------------ sampling pieces


def test_moment_factor_has_wishart_moments() -> None:
    # S = X^T X / n with X ~ N(0, I) (n, d): E S = I and E tr(S^2) = d + (d^2 + d) / n.
    d, n, reps = 6, 15, 4000
    rng = np.random.default_rng(3)
    for n_rows in (n, 4):  # Bartlett branch (n >= d) and explicit branch (n < d)
        sums = np.zeros((d, d))
        tr2 = 0.0
        for _ in range(reps):
            L = ridge._moment_factor(rng, n_rows, d)
            S = L @ L.T
            sums += S
            tr2 += np.trace(S @ S)
        np.testing.assert_allclose(sums / reps, np.eye(d), atol=0.06)
        assert tr2 / reps == pytest.approx(d + (d * d + d) / n_rows, rel=0.03)


def test_student_readout_matches_augmented_least_squares() -> None:
    rng = np.random.default_rng(4)
    m, d, n, lam = 6, 4, 30, 0.3
    W, X, y = rng.standard_normal((m, d)), rng.standard_normal((n, d)), rng.standard_normal(n)
    # min (1/n)||y - X W^T b||^2 + lam ||b||^2 as one least-squares problem.
    design = np.vstack([X @ W.T / math.sqrt(n), math.sqrt(lam) * np.eye(m)])
    target = np.concatenate([y / math.sqrt(n), np.zeros(m)])
    expected = np.linalg.lstsq(design, target, rcond=None)[0]
    np.testing.assert_allclose(student_readout(W, X, y, lam=lam), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("m", [5, 9, 14])
@pytest.mark.parametrize("n", [None, 4, 40])
def test_sweep_kernel_matches_direct_solve(m: int, n: int | None) -> None:
    rng = np.random.default_rng(5)
    d, lams = 9, np.array([0.02, 0.5, 3.0])
    W = rng.standard_normal((m, d)) / 3
    teachers = rng.standard_normal((d, 3))
    L = None if n is None else ridge._moment_factor(rng, n, d)
    sigma = np.eye(d) if L is None else L @ L.T
    got, eigs = ridge._misfit_all_lams(W, W.T @ W, L, teachers, lams)
    for j, lam in enumerate(lams):
        A = W.T @ np.linalg.solve(W @ sigma @ W.T + lam * np.eye(m), W @ sigma)
        assert got[j] == pytest.approx(np.mean(np.sum(((np.eye(d) - A) @ teachers) ** 2, axis=0)), rel=1e-9)
    np.testing.assert_allclose(np.sort(eigs)[-min(m, d):], np.linalg.eigvalsh(W.T @ W)[-min(m, d):], atol=1e-10)


# ------------------------------------------------------------------------------------ simulation


def test_simulation_converges_to_g() -> None:
    # d >= 300, gamma in {0.5, 1, 2, 4}, lam in {0.1, 1}; population limit and n = 500 d.
    d = 300
    widths = [150, 300, 600, 1200]
    for n in (None, 500 * d):
        res = sweep(d, widths, [0.1, 1.0], 4, n, n_teachers=512)
        rel = np.abs(res.misfit_mean / res.g - 1)
        assert rel.max() < 0.03, (n, rel)


def test_simulate_converges_to_g_for_one_teacher_per_student() -> None:
    # The posterior mean is the teacher itself, so misfit = gap ~ C g(gamma, lam).
    res = simulate(300, 600, 300 * 300, 1.0, 1, 12, 6, teacher_noise=0.3)
    assert res.conditional_variance == 0.0
    assert res.misfit / res.teacher_norm_sq == pytest.approx(res.g, rel=0.03)


@pytest.mark.parametrize("n", [None, 25, 400])
@pytest.mark.parametrize("convention", ["A", "B"])
def test_eq8_and_corollary41_identities_hold_on_the_sample(n: int | None, convention: str) -> None:
    res = simulate(20, 30, n, 0.3, 4, 5, 7, convention=convention, teacher_noise=0.8)
    scale = res.misfit
    assert res.conditional_variance > 0
    assert res.misfit == pytest.approx(res.posterior_gap + res.conditional_variance, rel=1e-12, abs=1e-14 * scale)
    assert res.student_risk == pytest.approx(res.teacher_risk - res.misfit + res.remainder, abs=1e-12)
    assert abs(res.remainder) <= res.epsilon + 1e-12  # Cauchy-Schwarz
    # Independent recomputation of the three Eq. (8) terms from the stored coefficients.
    v = res.students[:, None, :]
    assert res.misfit == pytest.approx(np.mean(np.sum((res.teachers - v) ** 2, -1)), rel=1e-12)
    assert res.posterior_gap == pytest.approx(
        np.mean(np.sum((res.teachers.mean(1) - res.students) ** 2, -1)), rel=1e-12
    )


def test_simulate_student_is_ridge_solution_of_pooled_labels() -> None:
    # Population limit: beta = (W W^T + lam)^{-1} W mean_t(w_t), checked through v = W^T beta.
    d, m, lam = 8, 5, 0.4
    res = simulate(d, m, None, lam, 3, 1, 11, teacher_noise=1.0)
    rng = np.random.default_rng(11)
    rng.standard_normal(d)  # truth direction
    rng.standard_normal((3, d))  # teacher noise
    W = rng.standard_normal((m, d)) / math.sqrt(d)
    w_bar = res.teachers[0].mean(0)
    v = W.T @ np.linalg.solve(W @ W.T + lam * np.eye(m), W @ w_bar)
    np.testing.assert_allclose(res.students[0], v, rtol=1e-10)


@pytest.mark.parametrize("n", [None, 2000])
@pytest.mark.parametrize("m", [40, 80])
def test_lambda_to_zero_kills_misfit_and_gain_when_wide(n: int | None, m: int) -> None:
    d = 40
    res = simulate(d, m, n, 1e-9, 1, 3, 8, teacher_noise=0.5)
    assert res.misfit < 1e-10
    assert abs(res.gain) < 1e-6
    assert res.teacher_risk > 0.1  # the teachers are not the truth; there was something to gain
    positive = simulate(d, m, n, 1.0, 1, 3, 8, teacher_noise=0.5)
    assert positive.misfit > 1e-2


def test_narrow_student_keeps_misfit_at_lambda_zero() -> None:
    # gamma < 1: the null space of W keeps a misfit of about (1 - gamma) C.
    res = simulate(200, 100, None, 1e-9, 1, 4, 9, teacher_noise=0.0)
    assert res.misfit / res.teacher_norm_sq == pytest.approx(0.5, abs=0.08)


def test_simulate_uses_given_truth() -> None:
    truth = np.zeros(10)
    truth[0] = 2.0
    res = simulate(10, 20, None, 0.1, 2, 2, 0, truth=truth, teacher_noise=0.0)
    np.testing.assert_array_equal(res.truth, truth)
    np.testing.assert_allclose(res.teachers, np.broadcast_to(truth, res.teachers.shape))
    assert res.teacher_risk == 0.0


def test_sweep_shapes_rows_and_dict() -> None:
    res = sweep(30, [15, 60], [0.1, 1.0], [3, 4], convention="A")
    assert res.misfit.shape == res.trace.shape == (2, 2, 2)
    rows = res.rows()
    assert len(rows) == 4
    first = rows[0]
    assert first["m"] == 15 and first["lam"] == 0.1
    assert first["misfit_mean"] == pytest.approx(res.misfit[:, 0, 0].mean())
    assert first["g"] == pytest.approx(float(g(0.5, 0.1, convention="A")))
    assert res.to_dict()["seeds"] == [3, 4]


def test_sweep_widths_order_does_not_matter() -> None:
    a = sweep(20, [10, 40, 25], [0.3], 2)
    b = sweep(20, [40, 25, 10], [0.3], 2)
    np.testing.assert_allclose(a.misfit[:, [0, 1, 2]], b.misfit[:, [2, 0, 1]], rtol=1e-12)


# ------------------------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    ("kwargs", "exc", "name"),
    [
        ({"d": 0}, ValueError, "`d`"),
        ({"d": 3.0}, TypeError, "`d`"),
        ({"m": -1}, ValueError, "`m`"),
        ({"n": 0}, ValueError, "`n`"),
        ({"lam": -0.1}, ValueError, "`lam`"),
        ({"lam": float("nan")}, ValueError, "`lam`"),
        ({"convention": "C"}, ValueError, "`convention`"),
        ({"n_teachers": 0}, ValueError, "`n_teachers`"),
        ({"n": 2, "n_teachers": 3}, ValueError, "`n`"),
        ({"lam": 0.0, "m": 5}, ValueError, "`lam`"),
        ({"truth": np.ones(3)}, ValueError, "`truth`"),
        ({"teacher_noise": -1.0}, ValueError, "`teacher_noise`"),
    ],
)
def test_simulate_rejects_bad_input(kwargs: dict, exc: type, name: str) -> None:
    args = {"d": 10, "m": 20, "n": 50, "lam": 0.1, "n_teachers": 2, "n_students": 2, "seed": 0}
    args.update(kwargs)
    with pytest.raises(exc, match=name):
        simulate(**args)


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: g(0.0, 1.0), "`gamma`"),
        (lambda: g(1.0, -1.0), "`lam`"),
        (lambda: g(1.0, 1.0, convention="b"), "`convention`"),
        (lambda: g_a(-1.0, 1.0), "`gamma_a`"),
        (lambda: g_trace(np.ones(3), 1.0), "`W`"),
        (lambda: g_trace(np.full((2, 2), np.inf), 1.0), "`W`"),
        (lambda: sweep(10, [], [1.0], 1), "`widths`"),
        (lambda: sweep(10, [5, 5], [1.0], 1), "`widths`"),
        (lambda: sweep(10, [5], [0.0], 1), "`lams`"),
        (lambda: sweep(10, [5], [1.0], 0), "`seeds`"),
        (lambda: sweep(10, [5], [1.0], [-1]), "`seeds`"),
        (lambda: student_readout(np.ones((2, 3)), np.ones((4, 2)), np.ones(4), lam=1.0), "`W`"),
        (lambda: student_readout(np.ones((2, 3)), np.ones((4, 3)), np.ones(4), lam=0.0), "`lam`"),
    ],
)
def test_public_functions_reject_bad_input(call, name: str) -> None:
    with pytest.raises((ValueError, TypeError), match=name):
        call()
