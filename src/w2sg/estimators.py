r"""Estimators on sampled model predictions: the CE bias--variance decomposition (Algorithm 1).

Pure numpy. The bias--variance estimator follows Yang et al. (2020), *Rethinking Bias-Variance
Trade-off for Generalization of Neural Networks*, as used by the paper's Algorithm 1 (MATH.md §7.4,
§7.6): ``M = N x k`` teacher -> student pairs (``N`` disjoint training subsets, ``k`` seeds) are
evaluated on one common test set, and their predictions are decomposed around the normalised
geometric mean (the dual mean of KL).

The gradient direction variance (Eq. 43) lives in :func:`w2sg.train.gradient_direction_variance`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["BiasVarianceEstimate", "bias_variance_ce"]

#: Probabilities are clipped to ``[PROB_EPS, 1 - PROB_EPS]`` before taking logs (a log of 0 would be
#: ``-inf``). The resulting CE of a prediction that put exactly 0 on the true class is
#: ``-log(1e-12) ~ 27.6``: large, finite and documented.
PROB_EPS = 1e-12
_MAX_LOGIT = float(np.log1p(-PROB_EPS) - np.log(PROB_EPS))  # logit(1 - eps) = -logit(eps), ~27.63


def _clipped_logit(p: np.ndarray) -> np.ndarray:
    # Clipping in logit space keeps 0 and 1 symmetric (1 - 1e-12 is not exact in float64).
    with np.errstate(divide="ignore"):
        z = np.log(p) - np.log1p(-p)
    return np.clip(z, -_MAX_LOGIT, _MAX_LOGIT)


def _as_float64(x: Any, name: str, owner: str) -> np.ndarray:
    if hasattr(x, "detach"):  # torch tensor, possibly bf16 (numpy has no bf16 dtype)
        x = x.detach().to(device="cpu").double().numpy()
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"`{name}` of {owner} must be a numeric array. Got {type(x).__name__} instead.") from err
    return arr


def _log_sigmoid(z: np.ndarray) -> np.ndarray:
    # log sigma(z) = -softplus(-z) = min(z, 0) - log1p(exp(-|z|)): finite for any finite z.
    return np.minimum(z, 0.0) - np.log1p(np.exp(-np.abs(z)))


def _log_softmax(a: np.ndarray, axis: int = -1) -> np.ndarray:
    top = np.max(a, axis=axis, keepdims=True)
    shifted = a - top
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


@dataclass(frozen=True)
class BiasVarianceEstimate:
    r"""The CE bias--variance decomposition of ``M`` models on ``n`` test points (Eq. 41).

    Attributes:
        risk: mean test CE over models and points, :math:`\widehat{\mathcal R}`.
        bias_squared: mean over points of :math:`\widehat{\mathrm{Bias}}{}^2(x)`.
        variance: mean over points of :math:`\widehat{\mathrm{Var}}(x)`.
        risk_per_point: array of shape (n,), mean over models of the CE at each point.
        bias_squared_per_point: array of shape (n,).
        variance_per_point: array of shape (n,).
        centre: the normalised geometric mean :math:`\bar\pi`; shape (n,) (class-1 probability)
            for binary input, (n, k) otherwise.
        n_models: ``M``.
        unbiased: whether the variance carries Yang's ``N/(N-1)`` correction.
    """

    risk: float
    bias_squared: float
    variance: float
    risk_per_point: np.ndarray
    bias_squared_per_point: np.ndarray
    variance_per_point: np.ndarray
    centre: np.ndarray
    n_models: int
    unbiased: bool

    def as_dict(self) -> dict[str, float]:
        """The three averages as plain floats (for tables and JSON)."""
        return {"risk": self.risk, "bias_squared": self.bias_squared, "variance": self.variance}


def bias_variance_ce(
    probs: Any,
    labels: Any,
    *,
    unbiased: bool = False,
    n_subsets: int | None = None,
    from_logits: bool = False,
) -> BiasVarianceEstimate:
    r"""Bias--variance decomposition of the test cross-entropy of ``M`` models (Eq. 41, Algorithm 1).

    Let :math:`\pi_m(x)` denote row ``m`` of ``probs`` (``M`` models, e.g. the ``N x k``
    teacher -> student pairs of Algorithm 1) and :math:`y` the class index ``labels[x]``. With
    :math:`\bar L_c(x) = \frac1M\sum_m \log \pi_{m,c}(x)`:

    .. math::
        \bar\pi(x) = \operatorname{softmax}\big(\bar L(x)\big), \qquad
        \widehat{\mathrm{Var}}(x) = \frac1M \sum_m \mathrm{KL}\big(\bar\pi(x)\,\Vert\,\pi_m(x)\big),

        \widehat{\mathrm{Bias}}{}^2(x) = \mathrm{KL}\big(e_y\,\Vert\,\bar\pi(x)\big) = -\log\bar\pi_y(x),
        \qquad
        \widehat{\mathcal R}(x) = \frac1M\sum_m -\log \pi_{m,y}(x).

    For one-hot labels the plug-in estimator satisfies
    :math:`\widehat{\mathrm{Bias}}{}^2 + \widehat{\mathrm{Var}} = \widehat{\mathcal R}` exactly
    (Eq. 3 with the KL generator: both sides equal :math:`-\bar L_y`), point by point. For a binary
    (sigmoid) model :math:`\bar\pi = \sigma(\text{mean logit})`.

    With ``unbiased=True`` the variance is Yang et al.'s estimator
    :math:`\frac{N}{N-1}\widehat{\mathrm{Var}}` (``N = n_subsets`` disjoint training subsets, MATH.md
    §7.6 step 3) and, as in their code, the bias is what remains of the risk:
    :math:`\widehat{\mathrm{Bias}}{}^2 = \widehat{\mathcal R} - \frac{N}{N-1}\widehat{\mathrm{Var}}` (it
    can be negative at single points when the variance dominates).

    Probabilities are clipped to ``[1e-12, 1 - 1e-12]`` before the logs (binary: the logit is
    clipped to :math:`\pm\operatorname{logit}(1 - 10^{-12})`; ``k`` classes: clipped, then
    renormalised), so predictions at exactly 0 or 1 give large finite terms; pass logits with
    ``from_logits=True`` to avoid clipping (extreme logits stay exact).

    Args:
        probs: array of shape (M, n) of class-1 probabilities of binary models, or (M, n, k) of
            class probabilities (rows on the simplex). With ``from_logits``: binary logits (M, n) or
            unnormalised logits (M, n, k). Torch tensors of any float dtype (bf16 too) are accepted;
            everything is computed in float64.
        labels: array of shape (n,) of class indices (0/1 for binary input).
        unbiased: apply the ``N/(N-1)`` variance correction (needs ``n_subsets``).
        n_subsets: ``N``, the number of disjoint training subsets among the ``M`` models (``M`` must
            be a multiple of it). Required when ``unbiased``.
        from_logits: interpret ``probs`` as logits.

    Returns:
        :class:`BiasVarianceEstimate` with per-point arrays and their averages over the test set.

    Raises:
        ValueError: wrong shapes, fewer than 2 models, no test points, non-finite values,
            probabilities outside [0, 1], labels that are not class indices, or a bad ``n_subsets``.

    References:
        Yang et al. 2020, Eqs. (5)-(6) and their ``cross_entropy`` evaluation code; the paper's
        Eq. (41) and Algorithm 1 (MATH.md §7.4, §7.6).

    Examples:
        >>> bv = bias_variance_ce([[0.8], [0.5]], [1])
        >>> round(bv.bias_squared + bv.variance - bv.risk, 12)
        0.0
        >>> round(float(bv.centre[0]), 4)  # sigma(mean logit) = 2 / (2 + 1)
        0.6667
    """
    owner = "bias_variance_ce"
    p = _as_float64(probs, "probs", owner)
    if p.ndim not in (2, 3):
        raise ValueError(
            f"`probs` of {owner} must have shape (M, n) (binary) or (M, n, k). Got shape {p.shape} instead."
        )
    n_models, n_points = p.shape[0], p.shape[1]
    if n_models < 2:
        raise ValueError(f"`probs` of {owner} must hold M >= 2 models on axis 0. Got M = {n_models} instead.")
    if n_points == 0:
        raise ValueError(f"`probs` of {owner} must hold at least one test point on axis 1. Got 0 instead.")
    if p.ndim == 3 and p.shape[2] < 2:
        raise ValueError(f"`probs` of {owner} must have k >= 2 classes on axis 2. Got k = {p.shape[2]} instead.")
    if not np.all(np.isfinite(p)):
        raise ValueError(f"`probs` of {owner} must be finite. Got NaN or inf instead.")
    if not from_logits:
        if p.min() < 0.0 or p.max() > 1.0:
            raise ValueError(
                f"`probs` of {owner} must be probabilities in [0, 1]. Got values in "
                f"[{p.min():g}, {p.max():g}] instead (pass from_logits=True for logits)."
            )
        if p.ndim == 3 and not np.allclose(p.sum(axis=-1), 1.0, atol=1e-6):
            raise ValueError(f"`probs` of {owner} of shape (M, n, k) must sum to 1 over the last axis.")

    k = 2 if p.ndim == 2 else p.shape[2]
    y = _as_float64(labels, "labels", owner)
    if y.shape != (n_points,):
        raise ValueError(f"`labels` of {owner} must have shape ({n_points},). Got shape {y.shape} instead.")
    if not np.all(np.isfinite(y)) or np.any(y != np.round(y)) or y.min() < 0 or y.max() > k - 1:
        raise ValueError(
            f"`labels` of {owner} must be class indices in {{0, ..., {k - 1}}}. Got values {np.unique(y)[:5]} instead."
        )
    y_idx = y.astype(np.int64)

    if unbiased:
        if n_subsets is None:
            raise ValueError(f"`n_subsets` of {owner} is required when unbiased=True. Got None instead.")
        if isinstance(n_subsets, bool) or not isinstance(n_subsets, (int, np.integer)):
            raise TypeError(f"`n_subsets` of {owner} must be an int. Got {type(n_subsets).__name__} instead.")
        if n_subsets < 2 or n_models % n_subsets != 0:
            raise ValueError(
                f"`n_subsets` of {owner} must be an int >= 2 that divides M = {n_models}. Got {n_subsets} instead."
            )

    # Log-probabilities of every model, class last: (M, n, k).
    if p.ndim == 2:
        z = p if from_logits else _clipped_logit(p)
        logp = np.stack([_log_sigmoid(-z), _log_sigmoid(z)], axis=-1)
    elif from_logits:
        logp = _log_softmax(p, axis=-1)
    else:
        q = np.clip(p, PROB_EPS, 1.0)
        logp = np.log(q) - np.log(q.sum(axis=-1, keepdims=True))

    mean_log = logp.mean(axis=0)  # (n, k): \bar L
    log_centre = _log_softmax(mean_log, axis=-1)  # (n, k): log \bar\pi
    centre = np.exp(log_centre)
    # mean_m KL(\bar\pi || \pi_m) = sum_c \bar\pi_c (log \bar\pi_c - \bar L_c), by linearity in log \pi_m.
    variance = np.sum(centre * (log_centre - mean_log), axis=-1)
    variance = np.maximum(variance, 0.0)  # KL >= 0; removes -1e-17 rounding
    rows = np.arange(n_points)
    risk = -logp[:, rows, y_idx].mean(axis=0)  # (n,)
    if unbiased:
        variance = variance * (n_subsets / (n_subsets - 1))  # Yang et al.: N/(N-1)
        bias = risk - variance
    else:
        bias = -log_centre[rows, y_idx]
    return BiasVarianceEstimate(
        risk=float(risk.mean()),
        bias_squared=float(bias.mean()),
        variance=float(variance.mean()),
        risk_per_point=risk,
        bias_squared_per_point=bias,
        variance_per_point=variance,
        centre=centre[:, 1] if p.ndim == 2 else centre,
        n_models=n_models,
        unbiased=unbiased,
    )
