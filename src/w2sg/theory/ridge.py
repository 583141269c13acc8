r"""Example 1 and Theorem 4.1: ridge regression on random features, simulated and in closed form.

A linear teacher :math:`f_w(x) = w^\top x` labels Gaussian inputs :math:`X \sim \mathcal N(0, I_d)`;
a two-layer linear student :math:`f_s(x) = \beta^\top W x` with a fixed Gaussian first layer
:math:`W \in \mathbb R^{m\times d}` fits :math:`\beta` by ridge regression on ``n`` teacher-labelled
inputs (MATH.md §5.3):

.. math::

    \hat\beta = \big(W\hat\Sigma W^\top + \lambda I_m\big)^{-1} W \hat b, \qquad
    \hat\Sigma = \tfrac1n X^\top X,\quad \hat b = \tfrac1n X^\top y .

With a single teacher :math:`\hat b = \hat\Sigma w`. Because :math:`X \sim \mathcal N(0, I)`,
:math:`\mathbb E_X (a^\top X - b^\top X)^2 = \lVert a - b\rVert^2` exactly, so every risk and misfit
below is computed from coefficient vectors, with no Monte-Carlo over test inputs.

Theorem 4.1 says the expected misfit tends to :math:`C\,g(\gamma, \lambda)` with
:math:`\gamma = m/d`, :math:`\lVert w\rVert^2 = C` and :math:`n/d \to \infty`, where

.. math::

    g(\gamma, \lambda) = \int \frac{\lambda^2}{(x+\lambda)^2}\,d\mu(x)
    = \lim_{d\to\infty} \frac1d \operatorname{tr}\big[\lambda^2 (W^\top W + \lambda I_d)^{-2}\big].

Two scalings of :math:`W` are supported (MATH.md §5.4): convention ``"B"`` (default) draws
:math:`W_{ij} \sim \mathcal N(0, 1/d)`; convention ``"A"`` draws :math:`W_{ij} \sim \mathcal N(0, 1/m)`.
Throughout this module ``gamma`` means the student width ratio :math:`m/d` under both conventions;
convention A's own variable in MATH.md is :math:`\gamma_A = d/m = 1/\gamma` (see :func:`g_a`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any, Literal

import numpy as np

__all__ = [
    "Convention",
    "RidgeSimulation",
    "RidgeSweep",
    "g",
    "g_a",
    "g_b",
    "g_trace",
    "mp_s",
    "simulate",
    "student_readout",
    "sweep",
]

Convention = Literal["A", "B"]
_CONVENTIONS = ("A", "B")


# --------------------------------------------------------------------------------------------------
# Validation helpers (boundary only)
# --------------------------------------------------------------------------------------------------


def _positive_int(value: Any, name: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"`{name}` of {where} must be a positive int. Got {value!r} instead.")
    if value <= 0:
        raise ValueError(f"`{name}` of {where} must be a positive int. Got {value!r} instead.")
    return int(value)


def _real(value: Any, name: str, where: str, *, low: float, closed: bool, allowed: str) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"`{name}` of {where} must be {allowed}. Got {value!r} instead.")
    x = float(value)
    if not math.isfinite(x) or x < low or (x == low and not closed):
        raise ValueError(f"`{name}` of {where} must be {allowed}. Got {value!r} instead.")
    return x


def _convention(value: Any, where: str) -> Convention:
    if value not in _CONVENTIONS:
        raise ValueError(
            f"`convention` of {where} must be one of 'A', 'B'. Got {value!r} instead."
        )
    return value  # type: ignore[return-value]


def _positive_array(value: Any, name: str, where: str, *, allow_zero: bool) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"`{name}` of {where} must be real numbers. Got {value!r} instead.") from exc
    bad = ~np.isfinite(arr) | (arr < 0) | ((arr == 0) & (not allow_zero))
    if np.any(bad):
        allowed = "finite and >= 0" if allow_zero else "finite and > 0"
        raise ValueError(
            f"`{name}` of {where} must be {allowed}. Got {np.asarray(value)[bad].ravel()[:3]!r} instead."
        )
    return arr


# --------------------------------------------------------------------------------------------------
# Closed forms (MATH.md §5.4)
# --------------------------------------------------------------------------------------------------


def mp_s(gamma: Any, lam: Any) -> np.ndarray:
    r"""The square root shared by the Marchenko–Pastur closed forms.

    .. math:: s(\gamma, \lambda) = \sqrt{\lambda^2 + 2\lambda(1+\gamma) + (1-\gamma)^2}.

    Args:
        gamma: ratio, array-like, > 0.
        lam: ridge parameter, array-like, >= 0 (broadcast against ``gamma``).

    Returns:
        Array of :math:`s`, broadcast shape of the inputs.

    Examples:
        >>> float(mp_s(1.0, 0.0))
        0.0
    """
    gamma = _positive_array(gamma, "gamma", "mp_s", allow_zero=False)
    lam = _positive_array(lam, "lam", "mp_s", allow_zero=True)
    return _s(gamma, lam)


def _s(gamma: np.ndarray, lam: np.ndarray) -> np.ndarray:
    return np.sqrt(lam * lam + 2.0 * lam * (1.0 + gamma) + (1.0 - gamma) ** 2)


def _g_b(gamma: np.ndarray, lam: np.ndarray) -> np.ndarray:
    gamma, lam = np.broadcast_arrays(gamma, lam)
    s = _s(gamma, lam)
    t = 1.0 - gamma
    out = np.empty(np.broadcast(gamma, lam).shape, dtype=np.float64)
    narrow = gamma <= 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        # gamma <= 1: every term of the printed numerator is >= 0, no cancellation.
        direct = (lam * (1.0 + gamma) + t * t + t * s) / (2.0 * s)
        # gamma > 1: (1-g)^2 + (1-g)s cancels against lam(1+g) as lam -> 0; rationalised twice
        # with s^2 - (1-g)^2 = lam(lam + 2(1+g)) this is
        # lam^2 [(1+g)(lam+2+2g) + (1-g)s - (1-g)^2] / (2 s (s+g-1)^2).
        stable = (
            lam * lam * ((1.0 + gamma) * (lam + 2.0 + 2.0 * gamma) + t * s - t * t)
            / (2.0 * s * (s - t) ** 2)
        )
    out[narrow] = direct[narrow]
    out[~narrow] = stable[~narrow]
    # lam = 0: the limit is the zero-eigenvalue mass (1 - gamma)_+ (0/0 at gamma = 1).
    zero = lam == 0.0
    out[zero] = np.maximum(t[zero], 0.0)
    return out


def g_b(gamma: Any, lam: Any) -> np.ndarray:
    r"""Asymptotic normalised misfit :math:`g_B(\gamma,\lambda)` for :math:`W_{ij}\sim\mathcal N(0,1/d)`.

    With :math:`\gamma = m/d` the spectrum of :math:`W^\top W` tends to an atom :math:`(1-\gamma)_+`
    at 0 plus the density :math:`\frac{1}{2\pi x}\sqrt{(\lambda_+-x)(x-\lambda_-)}` on
    :math:`[(1-\sqrt\gamma)^2, (1+\sqrt\gamma)^2]` (MATH.md §5.4, Theorem 4.1), giving

    .. math::

        g_B(\gamma,\lambda) = \frac{\lambda(1+\gamma) + (1-\gamma)^2 + (1-\gamma)\,s(\gamma,\lambda)}
        {2\,s(\gamma,\lambda)}.

    For :math:`\gamma > 1` the numerator is evaluated in a rationalised form without cancellation,
    so small :math:`\lambda` keeps full relative accuracy. At :math:`\lambda = 0` the value is the
    limit :math:`(1-\gamma)_+`.

    Args:
        gamma: student width ratio :math:`m/d`, array-like, > 0.
        lam: ridge parameter, array-like, >= 0; broadcast against ``gamma``.

    Returns:
        Array of :math:`g_B` in :math:`[0, 1]`, broadcast shape of the inputs.

    Raises:
        ValueError: if ``gamma <= 0``, ``lam < 0`` or either is not finite.

    Examples:
        >>> round(float(g_b(1.0, 0.5)), 6) == round((0.5 / 4.5) ** 0.5, 6)
        True
    """
    gamma = _positive_array(gamma, "gamma", "g_b", allow_zero=False)
    lam = _positive_array(lam, "lam", "g_b", allow_zero=True)
    return _g_b(gamma, lam)


def g_a(gamma_a: Any, lam: Any) -> np.ndarray:
    r"""Asymptotic normalised misfit :math:`g_A(\gamma_A,\lambda)` for :math:`W_{ij}\sim\mathcal N(0,1/m)`.

    Here :math:`\gamma_A = d/m` (MATH.md's convention-A variable, the *inverse* width ratio) and the
    spectrum of :math:`W^\top W` tends to :math:`\mathrm{MP}(\gamma_A)`:

    .. math::

        g_A(\gamma_A,\lambda) = \frac{(1-\gamma_A)^2 + \lambda(1+\gamma_A)
        - (1-\gamma_A)\,s(\gamma_A,\lambda)}{2\gamma_A\, s(\gamma_A,\lambda)}.

    For :math:`\gamma_A < 1` the numerator is evaluated in the rationalised form
    :math:`\lambda^2[(1+\gamma_A)(\lambda+2+2\gamma_A) - (1-\gamma_A)(s+1-\gamma_A)] /
    (2\gamma_A s (s+1-\gamma_A)^2)`. At :math:`\lambda = 0` the value is the limit
    :math:`(1 - 1/\gamma_A)_+`. As :math:`\gamma_A \to 0` it saturates at :math:`\lambda^2/(1+\lambda)^2`.

    Args:
        gamma_a: :math:`d/m`, array-like, > 0.
        lam: ridge parameter, array-like, >= 0; broadcast against ``gamma_a``.

    Returns:
        Array of :math:`g_A`, broadcast shape of the inputs.

    Raises:
        ValueError: if ``gamma_a <= 0``, ``lam < 0`` or either is not finite.

    Examples:
        >>> round(float(g_a(1e-6, 1.0)), 4)
        0.25
    """
    c = _positive_array(gamma_a, "gamma_a", "g_a", allow_zero=False)
    lam = _positive_array(lam, "lam", "g_a", allow_zero=True)
    c, lam = np.broadcast_arrays(c, lam)
    s = _s(c, lam)
    t = 1.0 - c
    out = np.empty(c.shape, dtype=np.float64)
    small = c < 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        # c >= 1: -(1-c)s >= 0, no cancellation in the printed numerator.
        direct = (t * t + lam * (1.0 + c) - t * s) / (2.0 * c * s)
        # c < 1: (1-c)^2 - (1-c)s cancels against lam(1+c); rationalised with s^2 - t^2.
        stable = (
            lam * lam * ((1.0 + c) * (lam + 2.0 + 2.0 * c) - t * (s + t))
            / (2.0 * c * s * (s + t) ** 2)
        )
    out[~small] = direct[~small]
    out[small] = stable[small]
    zero = lam == 0.0
    out[zero] = np.maximum(1.0 - 1.0 / c[zero], 0.0)
    return out


def g(gamma: Any, lam: Any, *, convention: Convention = "B") -> np.ndarray:
    r"""Theorem 4.1's limit :math:`g` as a function of the student width ratio :math:`\gamma = m/d`.

    Convention ``"B"`` returns :func:`g_b` ``(gamma, lam)``; convention ``"A"`` returns
    :func:`g_a` ``(1/gamma, lam)`` (MATH.md writes convention A in :math:`\gamma_A = d/m`). The two
    are linked by :math:`g_B(\gamma,\lambda) = g_A(1/\gamma, \lambda/\gamma)`, i.e.
    ``g(gamma, lam, convention="B") == g(gamma, lam / gamma, convention="A")``.

    .. math:: g(\gamma,\lambda) = \int \frac{\lambda^2}{(x+\lambda)^2}\,d\mu_\gamma(x)

    Args:
        gamma: student width ratio :math:`m/d`, array-like, > 0.
        lam: ridge parameter, array-like, >= 0 (``0`` gives the interpolation limit).
        convention: ``"B"`` (:math:`W_{ij}\sim\mathcal N(0,1/d)`) or ``"A"`` (:math:`\mathcal N(0,1/m)`).

    Returns:
        Array of :math:`g`, broadcast shape of ``gamma`` and ``lam``.

    Raises:
        ValueError: for a bad ``convention``, ``gamma <= 0`` or ``lam < 0``.

    Examples:
        >>> round(float(g(2.0, 0.1)), 4) == round(float(g(2.0, 0.05, convention="A")), 4)
        True
    """
    convention = _convention(convention, "g")
    gamma = _positive_array(gamma, "gamma", "g", allow_zero=False)
    lam = _positive_array(lam, "lam", "g", allow_zero=True)
    if convention == "B":
        return _g_b(gamma, lam)
    return g_a(1.0 / gamma, lam)


def g_trace(W: Any, lam: Any) -> np.ndarray:
    r"""Finite-size normalised misfit :math:`\frac1d\operatorname{tr}[\lambda^2(W^\top W+\lambda I_d)^{-2}]`.

    Computed from the eigenvalues :math:`e_r` of the smaller Gram matrix (:math:`WW^\top` or
    :math:`W^\top W`); the :math:`d - \operatorname{rank}` zero eigenvalues each contribute 1:

    .. math:: \frac1d\Big[\sum_r \frac{\lambda^2}{(e_r+\lambda)^2} + (d - r)\Big].

    Args:
        W: first layer, array of shape (m, d), finite.
        lam: ridge parameter, scalar or 1-D array, >= 0. At ``lam = 0`` exact zero eigenvalues
            count 1 and positive ones 0.

    Returns:
        Float for scalar ``lam``, else an array of shape ``lam.shape``.

    Raises:
        ValueError: if ``W`` is not a finite 2-D array or ``lam`` is negative.

    Examples:
        >>> float(g_trace(np.zeros((3, 4)), 1.0))
        1.0
    """
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 2 or W.shape[0] == 0 or W.shape[1] == 0 or not np.all(np.isfinite(W)):
        raise ValueError(
            f"`W` of g_trace must be a finite, non-empty 2-D array (m, d). Got shape {W.shape} instead."
        )
    lam_arr = _positive_array(lam, "lam", "g_trace", allow_zero=True)
    if lam_arr.ndim > 1:
        raise ValueError(f"`lam` of g_trace must be a scalar or 1-D. Got shape {lam_arr.shape} instead.")
    d = W.shape[1]
    gram = W @ W.T if W.shape[0] <= d else W.T @ W
    e = np.clip(np.linalg.eigvalsh(gram), 0.0, None)
    out = _trace_from_eigs(e, np.atleast_1d(lam_arr), d)
    return float(out[0]) if lam_arr.ndim == 0 else out


def _trace_from_eigs(e: np.ndarray, lams: np.ndarray, d: int) -> np.ndarray:
    lam = lams[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(e[None, :] + lam > 0, lam / (e[None, :] + lam), 1.0)  # 0/0 -> null direction
    return (np.sum(ratio**2, axis=1) + (d - e.size)) / d


# --------------------------------------------------------------------------------------------------
# Sampling pieces
# --------------------------------------------------------------------------------------------------


def _first_layer(rng: np.random.Generator, m: int, d: int, convention: Convention) -> np.ndarray:
    scale = 1.0 / math.sqrt(d if convention == "B" else m)
    return rng.standard_normal((m, d)) * scale


def _moment_factor(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    r"""A factor :math:`L` (d, r) with :math:`LL^\top \overset{d}{=} \frac1n X^\top X`, X ~ N(0, I) (n, d).

    For ``n >= d`` the Bartlett decomposition of the Wishart law :math:`W_d(n, I)` is used:
    :math:`L` lower-triangular with :math:`L_{ii} = \sqrt{\chi^2_{n-i+1}}`, :math:`L_{ij}\sim\mathcal N(0,1)`
    below the diagonal. It has exactly the law of :math:`X^\top X` and costs :math:`O(d^2)`
    whatever ``n`` is. For ``n < d`` the rows are drawn explicitly (:math:`L = X^\top`).
    """
    if n < d:
        return rng.standard_normal((n, d)).T / math.sqrt(n)
    L = np.tril(rng.standard_normal((d, d)), k=-1)
    L[np.diag_indices(d)] = np.sqrt(rng.chisquare(n - np.arange(d)))
    return L / math.sqrt(n)


def student_readout(W: Any, X: Any, y: Any, *, lam: float) -> np.ndarray:
    r"""Ridge readout of the random-features student on explicit data (MATH.md §5.3).

    .. math::

        \hat\beta = \arg\min_\beta \frac1n\sum_{i=1}^n (y_i - \beta^\top W x_i)^2 + \lambda\lVert\beta\rVert^2
        = (W\hat\Sigma W^\top + \lambda I_m)^{-1} W \tfrac1n X^\top y.

    Args:
        W: first layer, array of shape (m, d).
        X: inputs, array of shape (n, d).
        y: teacher labels, array of shape (n,).
        lam: ridge parameter, > 0 (keyword-only).

    Returns:
        :math:`\hat\beta`, array of shape (m,).

    Raises:
        ValueError: on mismatched shapes, non-finite entries or ``lam <= 0``.

    Examples:
        >>> beta = student_readout(np.eye(2), np.eye(2), np.array([1.0, 0.0]), lam=0.5)
        >>> np.allclose(beta, [0.5, 0.0])
        True
    """
    lam = _real(lam, "lam", "student_readout", low=0.0, closed=False, allowed="a finite float > 0")
    W = np.asarray(W, dtype=np.float64)
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if W.ndim != 2 or X.ndim != 2 or y.ndim != 1:
        raise ValueError(
            "`W`, `X`, `y` of student_readout must have shapes (m, d), (n, d), (n,). "
            f"Got {W.shape}, {X.shape}, {y.shape} instead."
        )
    if X.shape[1] != W.shape[1] or X.shape[0] != y.shape[0] or X.shape[0] == 0:
        raise ValueError(
            "`W`, `X`, `y` of student_readout must have shapes (m, d), (n, d), (n,) with n >= 1. "
            f"Got {W.shape}, {X.shape}, {y.shape} instead."
        )
    for name, arr in (("W", W), ("X", X), ("y", y)):
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"`{name}` of student_readout must be finite. Got non-finite entries instead.")
    n = X.shape[0]
    features = X @ W.T  # (n, m)
    gram = features.T @ features / n + lam * np.eye(W.shape[0])
    return np.linalg.solve(gram, features.T @ y / n)


def _student_vector(W: np.ndarray, sigma: np.ndarray, b: np.ndarray, lam: float) -> np.ndarray:
    r"""Coefficients :math:`v = W^\top\hat\beta` of the trained student, i.e. :math:`f_s(x) = v^\top x`.

    ``b`` may hold several label moments as columns (d, T). Solved in the smaller space:
    :math:`W^\top(W\hat\Sigma W^\top+\lambda)^{-1}W = (W^\top W\hat\Sigma+\lambda)^{-1}W^\top W` (push-through).
    """
    m, d = W.shape
    if m <= d:
        beta = np.linalg.solve(W @ sigma @ W.T + lam * np.eye(m), W @ b)
        return W.T @ beta
    gram = W.T @ W
    return np.linalg.solve(gram @ sigma + lam * np.eye(d), gram @ b)


# --------------------------------------------------------------------------------------------------
# Example 1 simulation with an explicit joint law of teachers and students
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RidgeSimulation:
    r"""Result of :func:`simulate`: the Example-1 joint law on its samples.

    The joint law of :math:`(F_w, F_s)` is uniform over the (teacher, student) pairs where the teacher
    belongs to the student's pool; :math:`P_{F_w\mid F_s}` is uniform over that pool. All expectations
    over :math:`X \sim \mathcal N(0, I_d)` are exact (:math:`\mathbb E_X (a^\top X - b^\top X)^2 =
    \lVert a-b\rVert^2`).

    Attributes:
        d, m, n, lam, convention: the set-up (``n`` is ``None`` for the population limit).
        gamma: :math:`m/d`.
        truth: ground-truth coefficients :math:`w^*`, shape (d,).
        teachers: teacher coefficients, shape (n_students, n_teachers, d).
        students: student coefficients :math:`v_s = W_s^\top\hat\beta_s`, shape (n_students, d).
        misfit: :math:`\mathbb E(F_w - F_s)^2` over pairs (Eq. 8, left side).
        posterior_gap: :math:`\mathbb E_{F_s}(\mathbb E[F_w\mid F_s] - F_s)^2` (Eq. 8, first term).
        conditional_variance: :math:`\mathbb E_{F_s}\mathrm{Var}(F_w\mid F_s)` (Eq. 8, second term).
        teacher_risk: :math:`\mathbb E (f^* - F_w)^2`.
        student_risk: :math:`\mathbb E (f^* - F_s)^2`.
        remainder: :math:`2\,\mathbb E\langle f^* - F_s, \bar F_w - F_s\rangle`, the exact remainder of
            Corollary 4.1: ``student_risk = teacher_risk - misfit + remainder``.
        epsilon: Corollary 4.1's Cauchy–Schwarz bound
            :math:`2\sqrt{\mathbb E(f^*-F_s)^2}\sqrt{\mathbb E(\bar F_w-F_s)^2} \ge` ``remainder``.
        teacher_norm_sq: mean :math:`\lVert w\rVert^2` over teachers (the constant :math:`C`).
        posterior_norm_sq: mean :math:`\lVert \mathbb E[F_w\mid F_s]\rVert^2` over students.
        g: the closed-form limit :math:`g(\gamma, \lambda)` for this convention.
    """

    d: int
    m: int
    n: int | None
    lam: float
    convention: Convention
    gamma: float
    truth: np.ndarray
    teachers: np.ndarray
    students: np.ndarray
    misfit: float
    posterior_gap: float
    conditional_variance: float
    teacher_risk: float
    student_risk: float
    remainder: float
    epsilon: float
    teacher_norm_sq: float
    posterior_norm_sq: float
    g: float

    @property
    def gain(self) -> float:
        """Teacher risk minus student risk (the W2S gain, Theorem 3.1)."""
        return self.teacher_risk - self.student_risk


def simulate(
    d: int,
    m: int,
    n: int | None,
    lam: float,
    n_teachers: int,
    n_students: int,
    seed: int,
    *,
    convention: Convention = "B",
    truth: Any = None,
    norm: float = 1.0,
    teacher_noise: float = 0.5,
) -> RidgeSimulation:
    r"""Simulate Example 1 with a teacher posterior that is not a Dirac mass.

    Generative model (MATH.md §5.3, teachers as noisy estimates of the ground truth):

    * ground truth :math:`w^*` (``truth``; default a random direction with
      :math:`\lVert w^*\rVert^2 =` ``norm``);
    * per student :math:`s`, a pool of ``n_teachers`` teachers
      :math:`w_{st} = w^* + \tfrac{\tau}{\sqrt d}\xi_{st}`, :math:`\xi\sim\mathcal N(0, I_d)`,
      :math:`\tau =` ``teacher_noise`` (so the teacher risk is about :math:`\tau^2`);
    * a fresh first layer :math:`W_s` and ``n`` W2S inputs, split evenly between the pool's teachers,
      each input labelled by its teacher; the student's readout is the ridge solution

      .. math:: \hat\beta_s = (W_s\hat\Sigma W_s^\top + \lambda I)^{-1} W_s\,\tfrac1n\textstyle\sum_t X_t^\top X_t w_{st}.

    With ``n_teachers = 1`` this is :math:`\hat\beta = (W\hat\Sigma W^\top+\lambda I)^{-1}W\hat\Sigma w`
    exactly. The joint law of :math:`(F_w, F_s)` is uniform over the pairs (student, teacher of its
    pool), so :math:`\mathbb E[F_w\mid F_s]` is the pool mean and Eq. (8)

    .. math::

        \mathbb E(F_w-F_s)^2 = \mathbb E_{F_s}(\mathbb E[F_w\mid F_s]-F_s)^2
        + \mathbb E_{F_s}\mathrm{Var}(F_w\mid F_s)

    holds exactly on the sample, as does Corollary 4.1's identity
    :math:`\mathcal R(F_s) = \mathcal R(F_w) - \mathbb E(F_s-F_w)^2 + 2\mathbb E\langle f^*-F_s, \bar F_w-F_s\rangle`.

    :math:`\hat\Sigma_t = X_t^\top X_t / n_t` is drawn from its exact Wishart law (Bartlett
    decomposition) when :math:`n_t \ge d`, so large ``n`` costs nothing extra; otherwise the
    inputs are drawn explicitly.

    Args:
        d: input dimension, positive int.
        m: student width (hidden units), positive int.
        n: number of W2S inputs per student, positive int with ``n >= n_teachers``; ``None`` for the
            population limit :math:`\hat\Sigma = I` (each teacher then has weight 1/``n_teachers``).
        lam: ridge parameter, float > 0 (``0`` is allowed only when the ridge system stays
            invertible, i.e. ``n`` is ``None`` or ``>= d``, and ``m >= d``).
        n_teachers: teachers per student (pool size), positive int.
        n_students: students, positive int.
        seed: seed of ``numpy.random.default_rng``.
        convention: ``"B"`` (:math:`W_{ij}\sim\mathcal N(0,1/d)`) or ``"A"`` (:math:`\mathcal N(0,1/m)`).
        truth: ground-truth coefficients of shape (d,), or ``None`` for a random direction.
        norm: :math:`\lVert w^*\rVert^2` of the random ground truth, > 0 (ignored if ``truth`` given).
        teacher_noise: :math:`\tau \ge 0`, the teachers' root-mean-square distance to the truth.

    Returns:
        A :class:`RidgeSimulation`.

    Raises:
        TypeError: if an integer argument is not an int.
        ValueError: for out-of-range arguments or a ``truth`` of the wrong shape.

    Examples:
        >>> r = simulate(20, 40, None, 0.5, 3, 4, 0)
        >>> abs(r.misfit - (r.posterior_gap + r.conditional_variance)) < 1e-12
        True
    """
    where = "simulate"
    d = _positive_int(d, "d", where)
    m = _positive_int(m, "m", where)
    if n is not None:
        n = _positive_int(n, "n", where)
    n_teachers = _positive_int(n_teachers, "n_teachers", where)
    n_students = _positive_int(n_students, "n_students", where)
    if isinstance(seed, bool) or not isinstance(seed, Integral) or seed < 0:
        raise ValueError(f"`seed` of simulate must be an int >= 0. Got {seed!r} instead.")
    convention = _convention(convention, where)
    lam = _real(lam, "lam", where, low=0.0, closed=True, allowed="a finite float >= 0")
    norm = _real(norm, "norm", where, low=0.0, closed=False, allowed="a finite float > 0")
    teacher_noise = _real(
        teacher_noise, "teacher_noise", where, low=0.0, closed=True, allowed="a finite float >= 0"
    )
    if n is not None and n < n_teachers:
        raise ValueError(
            f"`n` of simulate must be >= n_teachers ({n_teachers}) so every teacher labels an input. "
            f"Got {n} instead."
        )
    if lam == 0.0 and (m < d or (n is not None and n < d)):
        raise ValueError(
            "`lam` of simulate must be > 0 when m < d or n < d (the ridge system is singular). "
            f"Got lam=0 with d={d}, m={m}, n={n} instead."
        )
    rng = np.random.default_rng(seed)
    if truth is None:
        w_star = rng.standard_normal(d)
        w_star *= math.sqrt(norm) / np.linalg.norm(w_star)
    else:
        w_star = np.asarray(truth, dtype=np.float64)
        if w_star.shape != (d,) or not np.all(np.isfinite(w_star)):
            raise ValueError(
                f"`truth` of simulate must be a finite array of shape ({d},). Got shape {w_star.shape} instead."
            )

    teachers = np.empty((n_students, n_teachers, d))
    students = np.empty((n_students, d))
    identity = np.eye(d)
    for s in range(n_students):
        pool = w_star + teacher_noise / math.sqrt(d) * rng.standard_normal((n_teachers, d))
        W = _first_layer(rng, m, d, convention)
        if n is None:
            sigma = identity
            b = pool.mean(axis=0)
        else:
            # Inputs split as evenly as possible; teacher t labels counts[t] of them.
            counts = np.full(n_teachers, n // n_teachers)
            counts[: n % n_teachers] += 1
            sigma = np.zeros((d, d))
            b = np.zeros(d)
            for t in range(n_teachers):
                L = _moment_factor(rng, int(counts[t]), d)
                sigma_t = L @ L.T  # (d, d): X_t^T X_t / n_t in law
                weight = counts[t] / n
                sigma += weight * sigma_t
                b += weight * (sigma_t @ pool[t])
        teachers[s] = pool
        students[s] = _student_vector(W, sigma, b, lam)

    pool_mean = teachers.mean(axis=1)  # (S, d): E[F_w | F_s]
    misfit = float(np.mean(np.sum((teachers - students[:, None, :]) ** 2, axis=-1)))
    gap = float(np.mean(np.sum((pool_mean - students) ** 2, axis=-1)))
    cond_var = float(np.mean(np.sum((teachers - pool_mean[:, None, :]) ** 2, axis=-1)))
    teacher_risk = float(np.mean(np.sum((teachers - w_star) ** 2, axis=-1)))
    student_err = w_star - students
    student_risk = float(np.mean(np.sum(student_err**2, axis=-1)))
    remainder = float(2.0 * np.mean(np.sum(student_err * (pool_mean - students), axis=-1)))
    epsilon = 2.0 * math.sqrt(student_risk) * math.sqrt(gap)
    return RidgeSimulation(
        d=d,
        m=m,
        n=n,
        lam=lam,
        convention=convention,
        gamma=m / d,
        truth=w_star,
        teachers=teachers,
        students=students,
        misfit=misfit,
        posterior_gap=gap,
        conditional_variance=cond_var,
        teacher_risk=teacher_risk,
        student_risk=student_risk,
        remainder=remainder,
        epsilon=epsilon,
        teacher_norm_sq=float(np.mean(np.sum(teachers**2, axis=-1))),
        posterior_norm_sq=float(np.mean(np.sum(pool_mean**2, axis=-1))),
        g=float(g(m / d, lam, convention=convention)),
    )


# --------------------------------------------------------------------------------------------------
# Fast sweep over widths x ridge parameters x seeds (eigendecompositions, all lambdas at once)
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RidgeSweep:
    r"""Result of :func:`sweep`.

    Attributes:
        d: input dimension.
        widths: student widths :math:`m`, shape (W,).
        gammas: :math:`m/d`, shape (W,).
        lams: ridge parameters, shape (L,).
        seeds: the seeds, shape (S,).
        n: W2S inputs per student, or ``None`` (population limit).
        convention: ``"A"`` or ``"B"``.
        norm: :math:`C = \lVert w\rVert^2` of every teacher.
        misfit: :math:`\mathbb E(F_w-F_s)^2` per seed, averaged over the seed's teachers, shape (S, W, L).
        trace: :math:`C\cdot\frac1d\operatorname{tr}[\lambda^2(W^\top W+\lambda)^{-2}]` per seed, (S, W, L).
        g: closed form :math:`C\,g(\gamma,\lambda)`, shape (W, L).
    """

    d: int
    widths: np.ndarray
    gammas: np.ndarray
    lams: np.ndarray
    seeds: np.ndarray
    n: int | None
    convention: Convention
    norm: float
    misfit: np.ndarray
    trace: np.ndarray
    g: np.ndarray

    @property
    def misfit_mean(self) -> np.ndarray:
        """Mean misfit over seeds, shape (W, L)."""
        return self.misfit.mean(axis=0)

    @property
    def misfit_sd(self) -> np.ndarray:
        """Sample standard deviation over seeds (ddof=1; 0 for one seed), shape (W, L)."""
        if self.misfit.shape[0] < 2:
            return np.zeros(self.misfit.shape[1:])
        return self.misfit.std(axis=0, ddof=1)

    def rows(self) -> list[dict[str, float]]:
        """One dict per (width, lam): gamma, m, lam, misfit_mean, misfit_sd, trace_mean, g."""
        mean, sd, tr = self.misfit_mean, self.misfit_sd, self.trace.mean(axis=0)
        return [
            {
                "gamma": float(self.gammas[i]),
                "m": int(self.widths[i]),
                "lam": float(self.lams[j]),
                "misfit_mean": float(mean[i, j]),
                "misfit_sd": float(sd[i, j]),
                "trace_mean": float(tr[i, j]),
                "g": float(self.g[i, j]),
            }
            for j in range(self.lams.size)
            for i in range(self.widths.size)
        ]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description of the sweep (arrays as nested lists)."""
        return {
            "d": self.d,
            "n": self.n,
            "convention": self.convention,
            "norm": self.norm,
            "widths": self.widths.tolist(),
            "gammas": self.gammas.tolist(),
            "lams": self.lams.tolist(),
            "seeds": self.seeds.tolist(),
            "misfit": self.misfit.tolist(),
            "trace": self.trace.tolist(),
            "g": self.g.tolist(),
            "rows": self.rows(),
        }


def sweep(
    d: int,
    widths: Sequence[int],
    lams: Sequence[float],
    seeds: int | Sequence[int],
    n: int | None = None,
    *,
    convention: Convention = "B",
    n_teachers: int = 1,
    norm: float = 1.0,
) -> RidgeSweep:
    r"""Misfit of Example 1 over student widths, ridge parameters and seeds, by eigendecomposition.

    For each seed a first layer with ``max(widths)`` rows is drawn once and its first ``m`` rows
    form the width-``m`` student (common random numbers, so curves over ``m`` are smooth), together
    with ``n_teachers`` teachers uniform on the sphere :math:`\lVert w\rVert^2 = C` (``norm``) and,
    for finite ``n``, one W2S second-moment matrix :math:`\hat\Sigma = LL^\top` shared by the seed's
    students. Each student is trained on its own teacher, so the misfit
    :math:`\mathbb E\lVert (I - A) w\rVert^2` is Theorem 4.1's left side, with

    .. math::

        A w = W^\top(\Phi\Phi^\top+\lambda I)^{-1}\Phi L^\top w, \qquad \Phi = W L,

    and (push-through) :math:`(\Phi\Phi^\top+\lambda)^{-1}\Phi = \Phi(\Phi^\top\Phi+\lambda)^{-1}`.
    One symmetric eigendecomposition of the smaller of :math:`\Phi\Phi^\top` and :math:`\Phi^\top\Phi`
    per (seed, width) gives the student for every :math:`\lambda` at once. For ``n = None``,
    :math:`L = I` and :math:`I - A_\infty = \lambda(W^\top W+\lambda I)^{-1}` (MATH.md §5.4, Step 2).

    Args:
        d: input dimension, positive int.
        widths: student widths :math:`m`, positive ints (distinct).
        lams: ridge parameters, floats > 0.
        seeds: number of seeds (``0..seeds-1``) or an explicit sequence of ints >= 0.
        n: W2S inputs per student, positive int, or ``None`` for the population limit.
        convention: ``"B"`` or ``"A"`` scaling of the first layer.
        n_teachers: teachers per seed (the misfit is averaged over them), positive int.
        norm: :math:`C`, the teachers' squared norm, > 0.

    Returns:
        A :class:`RidgeSweep` with misfit and trace arrays of shape (seeds, widths, lams).

    Raises:
        TypeError, ValueError: for invalid arguments, naming the argument.

    Examples:
        >>> res = sweep(50, [25, 100], [1.0], 2)
        >>> res.misfit.shape
        (2, 2, 1)
    """
    where = "sweep"
    d = _positive_int(d, "d", where)
    if isinstance(widths, (str, bytes)) or not isinstance(widths, Sequence | np.ndarray):
        raise TypeError(f"`widths` of sweep must be a sequence of positive ints. Got {widths!r} instead.")
    width_list = [_positive_int(m, "widths", where) for m in widths]
    if not width_list or len(set(width_list)) != len(width_list):
        raise ValueError(
            f"`widths` of sweep must be a non-empty sequence of distinct positive ints. Got {widths!r} instead."
        )
    lam_arr = _positive_array(lams, "lams", where, allow_zero=False)
    if lam_arr.ndim != 1 or lam_arr.size == 0:
        raise ValueError(f"`lams` of sweep must be a non-empty 1-D sequence of floats > 0. Got {lams!r} instead.")
    if isinstance(seeds, Integral) and not isinstance(seeds, bool):
        seed_list = list(range(_positive_int(seeds, "seeds", where)))
    elif isinstance(seeds, Sequence | np.ndarray) and len(seeds) > 0 and all(
        isinstance(s, Integral) and not isinstance(s, bool) and s >= 0 for s in seeds
    ):
        seed_list = [int(s) for s in seeds]
    else:
        raise ValueError(
            f"`seeds` of sweep must be a positive int or a non-empty sequence of ints >= 0. Got {seeds!r} instead."
        )
    if n is not None:
        n = _positive_int(n, "n", where)
    convention = _convention(convention, where)
    n_teachers = _positive_int(n_teachers, "n_teachers", where)
    norm = _real(norm, "norm", where, low=0.0, closed=False, allowed="a finite float > 0")

    widths_arr = np.asarray(width_list, dtype=np.int64)
    m_max = int(widths_arr.max())
    misfit = np.empty((len(seed_list), widths_arr.size, lam_arr.size))
    trace = np.empty_like(misfit)
    for si, seed in enumerate(seed_list):
        rng = np.random.default_rng(seed)
        Z = rng.standard_normal((m_max, d))
        teachers = rng.standard_normal((d, n_teachers))
        teachers *= math.sqrt(norm) / np.linalg.norm(teachers, axis=0)  # (d, T) on the sphere
        L = None if n is None else _moment_factor(rng, n, d)
        # Nested widths: Z[:m]^T Z[:m] is accumulated over increasing m (one pass over Z per seed).
        ztz = np.zeros((d, d))
        done = 0
        for wi in np.argsort(widths_arr):
            m = int(widths_arr[wi])
            ztz += Z[done:m].T @ Z[done:m]
            done = m
            scale = 1.0 / (d if convention == "B" else m)
            W = Z[:m] * math.sqrt(scale)
            misfit[si, wi], eigs = _misfit_all_lams(W, ztz * scale, L, teachers, lam_arr)
            trace[si, wi] = norm * _trace_from_eigs(eigs, lam_arr, d)
    gammas = widths_arr / d
    return RidgeSweep(
        d=d,
        widths=widths_arr,
        gammas=gammas,
        lams=lam_arr,
        seeds=np.asarray(seed_list, dtype=np.int64),
        n=n,
        convention=convention,
        norm=norm,
        misfit=misfit,
        trace=trace,
        g=norm * g(gammas[:, None], lam_arr[None, :], convention=convention),
    )


def _misfit_all_lams(
    W: np.ndarray, wtw: np.ndarray, L: np.ndarray | None, teachers: np.ndarray, lams: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Mean misfit over teacher columns for every lambda, and the nonzero-block eigenvalues of W^T W.

    ``wtw`` is W^T W of shape (d, d), precomputed by the caller.
    """
    m, d = W.shape
    small_gram = wtw if m > d else W @ W.T  # (m, m) when m <= d: the nonzero block of W^T W
    if L is not None:
        e_w = np.clip(np.linalg.eigvalsh(small_gram), 0.0, None)  # only needed for the trace
    else:
        e_w, v_w = np.linalg.eigh(small_gram)
        e_w = np.clip(e_w, 0.0, None)
    if L is None:
        if m > d:
            # I - A_inf = V diag(lam / (e + lam)) V^T: no subtraction, exact small misfits.
            c2 = (v_w.T @ teachers) ** 2  # (d, T)
            shrink = (lams[:, None] / (e_w[None, :] + lams[:, None])) ** 2  # (L, d)
            return (shrink @ c2).mean(axis=1), e_w
        e, B, h = e_w, W.T @ v_w, v_w.T @ (W @ teachers)  # (m,), (d, m), (m, T)
    else:
        c0 = L.T @ teachers  # (r, T)
        r = L.shape[1]
        if m <= r:
            Phi = W @ L  # (m, r)
            e, vecs = np.linalg.eigh(Phi @ Phi.T)
            B, h = W.T @ vecs, vecs.T @ (Phi @ c0)
        else:
            # Phi^T Phi = L^T (W^T W) L and W^T Phi = (W^T W) L: nothing of size m is needed.
            wtw_l = wtw @ L  # (d, r)
            e, vecs = np.linalg.eigh(L.T @ wtw_l)
            B, h = wtw_l @ vecs, vecs.T @ c0
        e = np.clip(e, 0.0, None)
    out = np.empty(lams.size)
    for j, lam in enumerate(lams):
        resid = teachers - B @ (h / (e + lam)[:, None])  # (d, T): (I - A) w
        out[j] = np.mean(np.sum(resid**2, axis=0))
    return out, e_w
