r"""Evaluation metrics for binary weak-to-strong experiments (numpy only).

Per-model test metrics: :func:`accuracy` (with its binomial standard error), :func:`auroc`,
:func:`cross_entropy`, :func:`expected_calibration_error` and :func:`agreement` between two
models. Across seeds: :func:`performance_gap_recovered`, :func:`pgr_across_seeds`,
:func:`mean_and_standard_error` and :func:`paired_test`.

Conventions: ``probs`` are probabilities of the positive class in ``[0, 1]``; ``labels`` are hard
ground-truth labels 0/1 (bool, int or float); the hard prediction of a probability ``p`` is
``p > 0.5`` (a tie at exactly 0.5 predicts class 0, like ``argmax`` over ``[1-p, p]``).

Examples:
    >>> accuracy([0.9, 0.2, 0.6, 0.4], [1, 0, 0, 0]).mean
    0.75
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "Estimate",
    "PGRAcrossSeeds",
    "accuracy",
    "agreement",
    "auroc",
    "cross_entropy",
    "expected_calibration_error",
    "mean_and_standard_error",
    "paired_test",
    "performance_gap_recovered",
    "pgr_across_seeds",
    "pgr_ratio_of_means",
]


class Estimate(NamedTuple):
    """A mean and its standard error; unpacks as ``(mean, standard_error)``."""

    mean: float
    standard_error: float


# --------------------------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------------------------


def _vector(values: Any, *, name: str, owner: str, allow_empty: bool = False) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"`{name}` of {owner} must be a 1-D array of numbers. Got {type(values).__name__} instead.") from exc
    if arr.ndim != 1:
        raise ValueError(f"`{name}` of {owner} must be a 1-D array. Got shape {arr.shape} instead.")
    if arr.size == 0 and not allow_empty:
        raise ValueError(f"`{name}` of {owner} must hold at least one value. Got an empty array instead.")
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise ValueError(f"`{name}` of {owner} must be finite. Got {float(arr[bad[0]])!r} at row {bad[0]} instead.")
    return arr


def _probabilities(values: Any, *, name: str, owner: str) -> np.ndarray:
    arr = _vector(values, name=name, owner=owner)
    bad = np.flatnonzero((arr < 0) | (arr > 1))
    if bad.size:
        raise ValueError(
            f"`{name}` of {owner} must be probabilities in [0, 1]. Got {float(arr[bad[0]])!r} at row {bad[0]} instead."
        )
    return arr


def _labels(values: Any, *, owner: str, length: int) -> np.ndarray:
    arr = _vector(values, name="labels", owner=owner)
    if arr.size != length:
        raise ValueError(
            f"`labels` of {owner} must have the same length as the predictions ({length}). Got {arr.size} instead."
        )
    bad = np.flatnonzero((arr != 0) & (arr != 1))
    if bad.size:
        raise ValueError(f"`labels` of {owner} must be 0 or 1. Got {float(arr[bad[0]])!r} at row {bad[0]} instead.")
    return arr


def _same_length(a: np.ndarray, b: np.ndarray, *, names: tuple[str, str], owner: str) -> None:
    if a.shape != b.shape:
        raise ValueError(
            f"`{names[0]}` and `{names[1]}` of {owner} must have the same length. "
            f"Got {a.size} and {b.size} instead."
        )


# --------------------------------------------------------------------------------------------
# Per-model metrics
# --------------------------------------------------------------------------------------------


def accuracy(probs: ArrayLike, labels: ArrayLike) -> Estimate:
    r"""Accuracy of hard predictions and its binomial standard error.

    Let :math:`p_i` denote ``probs`` and :math:`y_i` ``labels``, :math:`i = 1..n`. Then

    .. math::
        \hat a = \frac1n\sum_i \mathbb 1[\mathbb 1[p_i > \tfrac12] = y_i], \qquad
        \mathrm{se} = \sqrt{\hat a(1-\hat a)/n}.

    Args:
        probs: array of shape ``(n,)``, positive-class probabilities in ``[0, 1]``.
        labels: array of shape ``(n,)`` of 0/1 ground-truth labels.

    Returns:
        :class:`Estimate` ``(mean, standard_error)``.

    Raises:
        ValueError: on empty, mismatched, non-finite or out-of-range inputs.

    Examples:
        >>> accuracy([0.9, 0.1], [1, 1])
        Estimate(mean=0.5, standard_error=0.3535533905932738)
    """
    p = _probabilities(probs, name="probs", owner="accuracy")
    y = _labels(labels, owner="accuracy", length=p.size)
    acc = float(np.mean((p > 0.5) == (y == 1)))
    return Estimate(acc, math.sqrt(acc * (1.0 - acc) / p.size))


def auroc(scores: ArrayLike, labels: ArrayLike) -> float:
    r"""Area under the ROC curve by the Mann-Whitney statistic, ties counted as one half.

    Let :math:`P` and :math:`N` be the scores of the positives and negatives. Then

    .. math::
        \mathrm{AUROC} = \frac{1}{|P||N|}\sum_{a\in P}\sum_{b\in N}
            \Big(\mathbb 1[a > b] + \tfrac12\,\mathbb 1[a = b]\Big)
        = \frac{R_P - |P|(|P|+1)/2}{|P||N|},

    where :math:`R_P` is the sum of the positives' mid-ranks (ties share their average rank).
    Any monotone transform of the scores (probabilities or logits) gives the same value.

    Args:
        scores: array of shape ``(n,)`` of finite real scores, higher meaning "more positive".
        labels: array of shape ``(n,)`` of 0/1 labels.

    Returns:
        AUROC in ``[0, 1]``.

    Raises:
        ValueError: if only one class is present (the AUROC is undefined), or on invalid input.

    Examples:
        >>> auroc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
        0.75
    """
    from scipy.stats import rankdata

    s = _vector(scores, name="scores", owner="auroc")
    y = _labels(labels, owner="auroc", length=s.size)
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError(
            "`labels` of auroc must contain both classes 0 and 1 (AUROC is undefined for one class). "
            f"Got only class {int(y[0])} in {y.size} labels instead."
        )
    ranks = rankdata(s)  # mid-ranks for ties
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def cross_entropy(probs: ArrayLike, labels: ArrayLike, *, eps: float = 1e-12) -> float:
    r"""Mean test cross-entropy against hard labels, with probabilities clipped away from 0 and 1.

    .. math::
        \mathrm{CE} = -\frac1n\sum_i \log\max(q_i, \varepsilon), \qquad
        q_i = y_i\,p_i + (1-y_i)(1-p_i),

    i.e. :math:`-[y\log p + (1-y)\log(1-p)]` with the probability of the true label clipped
    below at :math:`\varepsilon`, so a confidently wrong prediction costs at most
    :math:`-\log\varepsilon` (27.6 nats for the default :math:`\varepsilon = 10^{-12}`) instead of
    infinity. Use the loss module's
    ``evaluation_loss`` on logits where saturated probabilities must be scored exactly.

    Args:
        probs: array of shape ``(n,)`` in ``[0, 1]``.
        labels: array of shape ``(n,)`` of 0/1 labels.
        eps: clipping level in ``(0, 0.5)``.

    Returns:
        The mean cross-entropy in nats.

    References:
        MATH.md Section 9 (test loss against the ground-truth hard labels).

    Examples:
        >>> round(cross_entropy([0.5, 0.5], [0, 1]), 6)
        0.693147
    """
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not 0.0 < eps < 0.5:
        raise ValueError(f"`eps` of cross_entropy must be a float in (0, 0.5). Got {eps!r} instead.")
    p = _probabilities(probs, name="probs", owner="cross_entropy")
    y = _labels(labels, owner="cross_entropy", length=p.size)
    # probability of the true label; 1 - p is exact for the hard labels we select on
    q = np.where(y == 1, p, 1.0 - p)
    return float(-np.mean(np.log(np.maximum(q, eps))))


def expected_calibration_error(probs: ArrayLike, labels: ArrayLike, *, n_bins: int = 10) -> float:
    r"""Binary expected calibration error over equal-width confidence bins.

    The confidence of a prediction is :math:`c_i = \max(p_i, 1-p_i) \in [\tfrac12, 1]` and its
    hard prediction :math:`\hat y_i = \mathbb 1[p_i > \tfrac12]`. The interval :math:`[\tfrac12, 1]`
    is cut into ``n_bins`` equal-width bins :math:`B_1 = [\tfrac12, e_1]`,
    :math:`B_b = (e_{b-1}, e_b]`; then

    .. math::
        \mathrm{ECE} = \sum_{b} \frac{|B_b|}{n}\,\Big|\,\frac{1}{|B_b|}\sum_{i\in B_b}
            \mathbb 1[\hat y_i = y_i] - \frac{1}{|B_b|}\sum_{i\in B_b} c_i\Big|,

    with empty bins contributing 0. Binning on :math:`[\tfrac12, 1]` (rather than :math:`[0,1]`)
    uses every bin, since a binary confidence is never below one half.

    Args:
        probs: array of shape ``(n,)`` in ``[0, 1]``.
        labels: array of shape ``(n,)`` of 0/1 labels.
        n_bins: number of bins, an integer ``>= 1``.

    Returns:
        ECE in ``[0, 1]``.

    References:
        Guo et al. (2017), "On Calibration of Modern Neural Networks", Eq. (3).

    Examples:
        >>> round(expected_calibration_error([0.95, 0.95, 0.25, 0.65], [1, 0, 0, 1], n_bins=5), 6)
        0.375
    """
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise ValueError(f"`n_bins` of expected_calibration_error must be an integer >= 1. Got {n_bins!r} instead.")
    p = _probabilities(probs, name="probs", owner="expected_calibration_error")
    y = _labels(labels, owner="expected_calibration_error", length=p.size)
    confidence = np.maximum(p, 1.0 - p)
    correct = ((p > 0.5) == (y == 1)).astype(np.float64)
    edges = np.linspace(0.5, 1.0, int(n_bins) + 1)
    # right=True: bin b holds (e_{b-1}, e_b]; confidence 0.5 falls in the first bin.
    which = np.digitize(confidence, edges[1:-1], right=True)
    counts = np.bincount(which, minlength=n_bins)
    gap = np.bincount(which, weights=correct - confidence, minlength=n_bins)
    # sum_b |B_b|/n * |mean_b(correct) - mean_b(conf)| = sum_b |sum_{B_b}(correct - conf)| / n
    return float(np.abs(gap[counts > 0]).sum() / p.size)


def agreement(student_probs: ArrayLike, teacher_probs: ArrayLike) -> float:
    r"""Fraction of examples where two models make the same hard prediction.

    .. math::
        \frac1n\sum_i \mathbb 1\big[\mathbb 1[s_i > \tfrac12] = \mathbb 1[t_i > \tfrac12]\big].

    Args:
        student_probs: array of shape ``(n,)`` in ``[0, 1]``.
        teacher_probs: array of shape ``(n,)`` in ``[0, 1]``.

    Returns:
        Agreement in ``[0, 1]``.

    Examples:
        >>> agreement([0.9, 0.4, 0.6], [0.7, 0.6, 0.51])
        0.6666666666666666
    """
    s = _probabilities(student_probs, name="student_probs", owner="agreement")
    t = _probabilities(teacher_probs, name="teacher_probs", owner="agreement")
    _same_length(s, t, names=("student_probs", "teacher_probs"), owner="agreement")
    return float(np.mean((s > 0.5) == (t > 0.5)))


# --------------------------------------------------------------------------------------------
# Across seeds
# --------------------------------------------------------------------------------------------


def mean_and_standard_error(values: ArrayLike) -> Estimate:
    r"""Sample mean and its standard error :math:`s/\sqrt n` (sample s.d., ``ddof=1``).

    Args:
        values: array of shape ``(n,)``, ``n >= 1``, finite.

    Returns:
        :class:`Estimate`; with a single value the standard error is undefined and returned as
        ``nan`` (the mean is still returned).

    Examples:
        >>> mean_and_standard_error([1.0, 2.0, 3.0])
        Estimate(mean=2.0, standard_error=0.5773502691896258)
    """
    arr = _vector(values, name="values", owner="mean_and_standard_error")
    se = float(arr.std(ddof=1) / math.sqrt(arr.size)) if arr.size > 1 else float("nan")
    return Estimate(float(arr.mean()), se)


def performance_gap_recovered(weak: ArrayLike, w2s: ArrayLike, strong: ArrayLike) -> float | np.ndarray:
    r"""Performance gap recovered (Burns et al. 2023).

    .. math::
        \mathrm{PGR} = \frac{\mathrm{w2s} - \mathrm{weak}}{\mathrm{strong} - \mathrm{weak}},

    1 when the student matches the strong ceiling, 0 when it matches the weak teacher; it can be
    negative or exceed 1. Elementwise for arrays of equal shape.

    Where ``strong == weak`` the ratio is undefined: the result is ``nan`` there and a
    ``RuntimeWarning`` is issued. PGR is unstable when the gap is small relative to the noise of
    the three scores; see :func:`pgr_across_seeds` for its spread.

    Args:
        weak: score(s) of the weak teacher (e.g. test accuracy).
        w2s: score(s) of the weak-to-strong student.
        strong: score(s) of the strong ceiling trained on ground truth.

    Returns:
        A float for scalar inputs, else an array of the broadcast shape.

    Examples:
        >>> round(performance_gap_recovered(0.6, 0.7, 0.8), 12)
        0.5
    """
    arrays = []
    for name, value in (("weak", weak), ("w2s", w2s), ("strong", strong)):
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"`{name}` of performance_gap_recovered must be a number or array of numbers. "
                f"Got {type(value).__name__} instead."
            ) from exc
        if not np.isfinite(arr).all():
            raise ValueError(f"`{name}` of performance_gap_recovered must be finite. Got {value!r} instead.")
        arrays.append(arr)
    weak_a, w2s_a, strong_a = arrays
    if not (weak_a.shape == w2s_a.shape == strong_a.shape):
        raise ValueError(
            "`weak`, `w2s` and `strong` of performance_gap_recovered must have the same shape. "
            f"Got {weak_a.shape}, {w2s_a.shape} and {strong_a.shape} instead."
        )
    gap = strong_a - weak_a
    zero = gap == 0
    if zero.any():
        warnings.warn(
            f"performance_gap_recovered: strong == weak for {int(zero.sum())} value(s); PGR is undefined there "
            "and returned as nan.",
            RuntimeWarning,
            stacklevel=2,
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        pgr = np.where(zero, np.nan, (w2s_a - weak_a) / np.where(zero, 1.0, gap))
    return float(pgr) if pgr.ndim == 0 else pgr


def _seed_arrays(weak: Any, w2s: Any, strong: Any, *, owner: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    arrays = tuple(_vector(v, name=n, owner=owner) for n, v in (("weak", weak), ("w2s", w2s), ("strong", strong)))
    if not (arrays[0].size == arrays[1].size == arrays[2].size):
        raise ValueError(
            f"`weak`, `w2s` and `strong` of {owner} must hold one value per seed each. "
            f"Got lengths {arrays[0].size}, {arrays[1].size} and {arrays[2].size} instead."
        )
    return arrays  # type: ignore[return-value]


def pgr_ratio_of_means(
    weak: ArrayLike,
    w2s: ArrayLike,
    strong: ArrayLike,
    *,
    method: Literal["delta", "bootstrap"] = "delta",
    n_bootstrap: int = 2000,
    seed: int = 0,
) -> Estimate:
    r"""PGR of the seed-averaged scores, with a delta-method or bootstrap standard error.

    With per-seed numerators :math:`N_i = \mathrm{w2s}_i - \mathrm{weak}_i` and gaps
    :math:`D_i = \mathrm{strong}_i - \mathrm{weak}_i`, :math:`i = 1..n`,

    .. math::
        R = \frac{\bar N}{\bar D}, \qquad
        \mathrm{se}_\Delta(R) = \frac{1}{|\bar D|}\sqrt{\frac{s_N^2 - 2R\,s_{ND} + R^2 s_D^2}{n}}

    (first-order delta method, sample (co)variances with ``ddof=1``). ``"bootstrap"`` resamples
    seeds with replacement ``n_bootstrap`` times with ``numpy.random.default_rng(seed)`` and
    returns the standard deviation of :math:`R` over the resamples (resamples whose mean gap is 0
    are dropped). Unlike the mean of per-seed PGRs, :math:`R` is not dominated by a seed with a
    tiny gap.

    Args:
        weak, w2s, strong: arrays of shape ``(n,)``, one score per seed (paired by seed).
        method: ``"delta"`` or ``"bootstrap"``.
        n_bootstrap: number of bootstrap resamples, ``>= 2``.
        seed: seed of the bootstrap generator.

    Returns:
        :class:`Estimate` ``(ratio_of_means, standard_error)``; ``nan`` for the ratio (with a
        warning) when the mean gap is 0, and ``nan`` for the standard error when ``n == 1``.

    Examples:
        >>> round(pgr_ratio_of_means([0.6, 0.62], [0.7, 0.7], [0.8, 0.82]).mean, 12)
        0.45
    """
    if method not in ("delta", "bootstrap"):
        raise ValueError(f"`method` of pgr_ratio_of_means must be 'delta' or 'bootstrap'. Got {method!r} instead.")
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, (int, np.integer)) or n_bootstrap < 2:
        raise ValueError(f"`n_bootstrap` of pgr_ratio_of_means must be an integer >= 2. Got {n_bootstrap!r} instead.")
    weak_a, w2s_a, strong_a = _seed_arrays(weak, w2s, strong, owner="pgr_ratio_of_means")
    num, den = w2s_a - weak_a, strong_a - weak_a
    n = num.size
    if den.mean() == 0:
        warnings.warn(
            "pgr_ratio_of_means: the mean gap strong - weak is 0; PGR is undefined and returned as nan.",
            RuntimeWarning,
            stacklevel=2,
        )
        return Estimate(float("nan"), float("nan"))
    ratio = float(num.mean() / den.mean())
    if n == 1:
        return Estimate(ratio, float("nan"))
    if method == "delta":
        cov = np.cov(np.stack([num, den]), ddof=1)
        var = (cov[0, 0] - 2.0 * ratio * cov[0, 1] + ratio**2 * cov[1, 1]) / n
        return Estimate(ratio, float(math.sqrt(max(var, 0.0)) / abs(den.mean())))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(int(n_bootstrap), n))
    num_b, den_b = num[idx].mean(axis=1), den[idx].mean(axis=1)
    keep = den_b != 0
    ratios = num_b[keep] / den_b[keep]
    return Estimate(ratio, float(ratios.std(ddof=1)) if ratios.size > 1 else float("nan"))


@dataclass(frozen=True)
class PGRAcrossSeeds:
    """PGR over seeds: mean of per-seed PGRs and the ratio-of-means estimate, each with a s.e.

    Unpacks as ``(mean, standard_error, per_seed)``.

    Attributes:
        mean: mean of the per-seed PGRs (``nan`` if any seed has ``strong == weak``).
        standard_error: standard error of that mean across seeds (``nan`` for one seed).
        per_seed: per-seed PGRs, shape ``(n,)``.
        ratio_of_means: PGR of the seed-averaged scores (see :func:`pgr_ratio_of_means`).
        ratio_of_means_standard_error: its delta-method or bootstrap standard error.
        method: ``"delta"`` or ``"bootstrap"``.
    """

    mean: float
    standard_error: float
    per_seed: np.ndarray
    ratio_of_means: float
    ratio_of_means_standard_error: float
    method: str

    def __iter__(self):
        return iter((self.mean, self.standard_error, self.per_seed))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; ``nan`` becomes ``None``."""

        def clean(v: float) -> float | None:
            return None if math.isnan(v) else float(v)

        return {
            "mean": clean(self.mean),
            "standard_error": clean(self.standard_error),
            "per_seed": [clean(v) for v in self.per_seed],
            "ratio_of_means": clean(self.ratio_of_means),
            "ratio_of_means_standard_error": clean(self.ratio_of_means_standard_error),
            "method": self.method,
            "n_seeds": int(self.per_seed.size),
        }


def pgr_across_seeds(
    weak: ArrayLike,
    w2s: ArrayLike,
    strong: ArrayLike,
    *,
    method: Literal["delta", "bootstrap"] = "delta",
    n_bootstrap: int = 2000,
    seed: int = 0,
) -> PGRAcrossSeeds:
    r"""Uncertainty of PGR across seeds.

    Per seed :math:`i`, :math:`\mathrm{PGR}_i = (\mathrm{w2s}_i - \mathrm{weak}_i) /
    (\mathrm{strong}_i - \mathrm{weak}_i)`; reported as their mean :math:`\pm s/\sqrt n`, and
    also as the ratio of means :math:`\bar N/\bar D` with a delta-method or seeded bootstrap
    standard error (:func:`pgr_ratio_of_means`). The two agree when the gaps are similar across
    seeds; the ratio of means is the safer summary when one seed's gap is near zero.

    Args:
        weak, w2s, strong: arrays of shape ``(n,)``, one score per seed, paired by seed.
        method: standard error of the ratio of means, ``"delta"`` or ``"bootstrap"``.
        n_bootstrap: bootstrap resamples (only for ``"bootstrap"``).
        seed: seed of the bootstrap generator.

    Returns:
        :class:`PGRAcrossSeeds`, which unpacks as ``(mean, standard_error, per_seed)``.

    Examples:
        >>> mean, se, per_seed = pgr_across_seeds([0.6, 0.6], [0.7, 0.75], [0.8, 0.8])
        >>> per_seed
        array([0.5 , 0.75])
    """
    weak_a, w2s_a, strong_a = _seed_arrays(weak, w2s, strong, owner="pgr_across_seeds")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        per_seed = np.atleast_1d(performance_gap_recovered(weak_a, w2s_a, strong_a))
        ratio = pgr_ratio_of_means(weak_a, w2s_a, strong_a, method=method, n_bootstrap=n_bootstrap, seed=seed)
    undefined = int(np.isnan(per_seed).sum())
    if undefined:
        warnings.warn(
            f"pgr_across_seeds: strong == weak in {undefined} of {per_seed.size} seed(s); their PGR is nan, "
            "and so is the mean of per-seed PGRs. The ratio of means is still reported.",
            RuntimeWarning,
            stacklevel=2,
        )
        mean, se = float("nan"), float("nan")
    else:
        mean, se = mean_and_standard_error(per_seed)
    return PGRAcrossSeeds(mean, se, per_seed, ratio.mean, ratio.standard_error, method)


def paired_test(
    a: ArrayLike, b: ArrayLike, *, alternative: Literal["two-sided", "less", "greater"] = "two-sided"
) -> float:
    r"""p-value of a paired t-test of ``a`` against ``b`` (e.g. an objective against CE, by seed).

    With differences :math:`d_i = a_i - b_i`, :math:`t = \bar d / (s_d/\sqrt n)` on :math:`n-1`
    degrees of freedom (``scipy.stats.ttest_rel``). When every difference is the same the
    statistic is degenerate: the p-value is 1 if the differences are all 0 and 0 otherwise
    (one-sided alternatives: 0 only in the direction of the difference, else 1).

    Args:
        a, b: arrays of shape ``(n,)``, ``n >= 2``, paired by position (seed).
        alternative: ``"two-sided"``, ``"less"`` (mean of ``a`` below ``b``) or ``"greater"``.

    Returns:
        The p-value in ``[0, 1]``.

    Examples:
        >>> round(paired_test([0.81, 0.83, 0.80, 0.84], [0.80, 0.81, 0.80, 0.82]), 4)
        0.0796
    """
    from scipy.stats import ttest_rel

    if alternative not in ("two-sided", "less", "greater"):
        raise ValueError(
            f"`alternative` of paired_test must be 'two-sided', 'less' or 'greater'. Got {alternative!r} instead."
        )
    x = _vector(a, name="a", owner="paired_test")
    y = _vector(b, name="b", owner="paired_test")
    _same_length(x, y, names=("a", "b"), owner="paired_test")
    if x.size < 2:
        raise ValueError(f"`a` and `b` of paired_test must hold at least 2 pairs. Got {x.size} instead.")
    d = x - y
    if np.all(d == d[0]):
        if d[0] == 0:
            return 1.0
        direction = "greater" if d[0] > 0 else "less"
        return 0.0 if alternative in ("two-sided", direction) else 1.0
    return float(ttest_rel(x, y, alternative=alternative).pvalue)
