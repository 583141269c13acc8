r"""Cross-entropy family for :math:`k` classes, logit gradients and Proposition 2 (MATH.md §6).

Argument convention (MATH.md §6.1): the **target comes first**. For probability vectors ``p`` (the
teacher) and ``q`` (the student) on the last axis,

.. math::

    \mathrm{CE}(p,q) = -\sum_j p_j\log q_j, \quad
    \mathrm{RCE}(p,q) = \mathrm{CE}(q,p) = -\sum_j q_j\log p_j,

    \mathrm{KL}(p\Vert q) = \sum_j p_j\log\frac{p_j}{q_j}, \quad
    \mathrm{RKL}(p,q) = \mathrm{KL}(q\Vert p), \quad H(p) = -\sum_j p_j\log p_j,

so :math:`\mathrm{CE}(p,q) = \mathrm{KL}(p\Vert q) + H(p)` and
:math:`\mathrm{RCE}(p,q) = \mathrm{RKL}(p,q) + H(q)`.

**Zeros.** :math:`0\log 0 = 0` always. A zero probability under a logarithm that carries positive
weight gives :math:`+\infty` unless ``log_zero`` is set: then every logarithm of that argument is
clamped from below, :math:`\log x \mapsto \max(\log x, A)` with :math:`A =` ``log_zero`` (Wang et al.
2019 use :math:`A=-4` for one-hot labels; PyTorch's ``binary_cross_entropy`` clamps at :math:`-100`).

Inputs of any float dtype (including ``bfloat16`` via ``ml_dtypes`` and ``float16``) are computed in
float64; the tolerance for "rows sum to one" scales with the input dtype's precision.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Real
from typing import Any

import numpy as np
from scipy.special import expit, log_softmax, softmax

__all__ = [
    "SmoothingTable",
    "binary_probs",
    "ce_minimiser",
    "cross_entropy",
    "entropy",
    "grad_bce_logit",
    "grad_binary_rkl_logit",
    "grad_ce_logits",
    "grad_kl_logits",
    "grad_rbce_logit",
    "grad_rce_logits",
    "grad_rkl_logits",
    "kl_divergence",
    "rce_minimiser",
    "reverse_cross_entropy",
    "reverse_kl",
    "smooth_labels",
    "smoothing_table",
]


# --------------------------------------------------------------------------------------------------
# Validation (boundary only)
# --------------------------------------------------------------------------------------------------


def _as_float(x: Any, name: str, where: str) -> tuple[np.ndarray, float]:
    """float64 copy of ``x`` and the machine epsilon of its original dtype."""
    try:
        raw = np.asarray(x)
        arr = raw.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"`{name}` of {where} must be an array of real numbers. Got {type(x).__name__} instead.") from exc
    if raw.dtype.kind not in "fiub" and raw.dtype.name != "bfloat16":
        raise TypeError(f"`{name}` of {where} must be an array of real numbers. Got dtype {raw.dtype} instead.")
    eps = float(np.finfo(raw.dtype).eps) if raw.dtype.kind == "f" and raw.dtype.name != "bfloat16" else 0.0
    if raw.dtype.name == "bfloat16":
        eps = 2.0**-7
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"`{name}` of {where} must be finite. Got NaN or inf entries instead.")
    return arr, eps


def _probs(x: Any, name: str, where: str) -> np.ndarray:
    """Validate probability vectors on the last axis (k >= 2, entries in [0, 1], rows summing to 1)."""
    arr, eps = _as_float(x, name, where)
    if arr.ndim == 0 or arr.shape[-1] < 2:
        raise ValueError(
            f"`{name}` of {where} must hold probability vectors on the last axis with k >= 2 classes. "
            f"Got shape {arr.shape} instead."
        )
    k = arr.shape[-1]
    tol = max(1e-6, 4.0 * k * eps)
    if np.any(arr < -tol) or np.any(arr > 1 + tol):
        bad = arr[(arr < -tol) | (arr > 1 + tol)].ravel()[:3]
        raise ValueError(f"`{name}` of {where} must have entries in [0, 1]. Got {bad.tolist()} instead.")
    sums = arr.sum(axis=-1)
    if np.any(np.abs(sums - 1.0) > tol):
        idx = np.unravel_index(np.argmax(np.abs(sums - 1.0)), sums.shape)
        raise ValueError(
            f"`{name}` of {where} must have rows summing to 1 (tolerance {tol:.1e}). "
            f"Got a row summing to {float(sums[idx])!r} at index {tuple(int(i) for i in idx)} instead."
        )
    return np.clip(arr, 0.0, 1.0)


def _logits(z: Any, where: str) -> np.ndarray:
    arr, _ = _as_float(z, "z", where)
    if arr.ndim == 0 or arr.shape[-1] < 2:
        raise ValueError(f"`z` of {where} must hold logits on the last axis with k >= 2. Got shape {arr.shape} instead.")
    return arr


def _same_k(a: np.ndarray, b: np.ndarray, names: tuple[str, str], where: str) -> None:
    try:
        np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        ok = False
    else:
        ok = a.shape[-1] == b.shape[-1]
    if not ok:
        raise ValueError(
            f"`{names[0]}` and `{names[1]}` of {where} must have the same number of classes and broadcastable "
            f"shapes. Got {a.shape} and {b.shape} instead."
        )


def _check_log_zero(log_zero: Any, where: str) -> float | None:
    if log_zero is None:
        return None
    if isinstance(log_zero, bool) or not isinstance(log_zero, Real) or not (-math.inf < float(log_zero) < 0):
        raise ValueError(
            f"`log_zero` of {where} must be None or a finite float < 0 (e.g. -4 or -100). Got {log_zero!r} instead."
        )
    return float(log_zero)


def _alpha(alpha: Any, where: str) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, Real) or not (0.0 <= float(alpha) <= 1.0):
        raise ValueError(f"`alpha` of {where} must be a float in [0, 1]. Got {alpha!r} instead.")
    return float(alpha)


def _log(x: np.ndarray, log_zero: float | None) -> np.ndarray:
    with np.errstate(divide="ignore"):
        out = np.log(x)
    # log 0 := A (and anything below A) when a clamp is requested; otherwise -inf stays.
    return out if log_zero is None else np.maximum(out, log_zero)


def _weighted_log_sum(weights: np.ndarray, logs: np.ndarray) -> np.ndarray:
    # sum_j w_j log x_j with the convention 0 * log 0 = 0 (and 0 * clamp = 0).
    w, lg = np.broadcast_arrays(weights, logs)
    terms = np.zeros(w.shape)
    pos = w > 0
    terms[pos] = w[pos] * lg[pos]
    return terms.sum(axis=-1)


# --------------------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------------------


def cross_entropy(p: Any, q: Any, *, log_zero: float | None = None) -> np.ndarray:
    r"""Cross-entropy :math:`\mathrm{CE}(p,q) = -\sum_j p_j\log q_j` (MATH.md §6.1), target first.

    Args:
        p: target probabilities, array of shape (..., k), rows on the simplex.
        q: predicted probabilities, shape broadcastable to ``p``'s with the same k.
        log_zero: ``None`` (a zero :math:`q_j` under :math:`p_j>0` gives ``inf``) or a float < 0
            that clamps :math:`\log q` from below.

    Returns:
        Array of shape ``broadcast(p, q).shape[:-1]``.

    Raises:
        ValueError: for non-probability rows, mismatched k or a bad ``log_zero``.

    Examples:
        >>> float(cross_entropy([0.5, 0.5], [0.5, 0.5])) == math.log(2)
        True
    """
    where = "cross_entropy"
    lz = _check_log_zero(log_zero, where)
    p, q = _probs(p, "p", where), _probs(q, "q", where)
    _same_k(p, q, ("p", "q"), where)
    return 0.0 - _weighted_log_sum(p, _log(q, lz))  # 0.0 - x avoids a signed zero


def reverse_cross_entropy(p: Any, q: Any, *, log_zero: float | None = None) -> np.ndarray:
    r"""Reverse cross-entropy :math:`\mathrm{RCE}(p,q) = \mathrm{CE}(q,p) = -\sum_j q_j\log p_j`.

    The student's distribution ``q`` weights the log of the teacher's ``p`` (MATH.md §6.1, Eq. 33).

    Args:
        p: teacher (target) probabilities, shape (..., k).
        q: student probabilities, broadcastable, same k.
        log_zero: ``None`` (``inf`` where :math:`p_j = 0 < q_j`) or a float < 0 clamping
            :math:`\log p` from below: ``-4`` (Wang et al. 2019) or ``-100`` (PyTorch).

    Returns:
        Array of shape ``broadcast(p, q).shape[:-1]``.

    Raises:
        ValueError: for non-probability rows, mismatched k or a bad ``log_zero``.

    Examples:
        >>> float(reverse_cross_entropy([1.0, 0.0], [0.5, 0.5], log_zero=-4))
        2.0
    """
    where = "reverse_cross_entropy"
    lz = _check_log_zero(log_zero, where)
    p, q = _probs(p, "p", where), _probs(q, "q", where)
    _same_k(p, q, ("p", "q"), where)
    return 0.0 - _weighted_log_sum(q, _log(p, lz))


def entropy(p: Any) -> np.ndarray:
    r"""Shannon entropy :math:`H(p) = -\sum_j p_j\log p_j` with :math:`0\log 0 = 0`, in nats.

    Args:
        p: probabilities, array of shape (..., k).

    Returns:
        Array of shape ``p.shape[:-1]``, in :math:`[0, \log k]`.

    Examples:
        >>> float(entropy([1.0, 0.0]))
        0.0
    """
    p = _probs(p, "p", "entropy")
    return 0.0 - _weighted_log_sum(p, _log(p, None))


def kl_divergence(p: Any, q: Any) -> np.ndarray:
    r"""Kullback–Leibler divergence :math:`\mathrm{KL}(p\Vert q) = \sum_j p_j\log(p_j/q_j)`.

    The Bregman divergence of negative entropy; :math:`\mathrm{CE}(p,q) = \mathrm{KL}(p\Vert q) + H(p)`.
    ``inf`` where :math:`q_j = 0 < p_j`.

    Args:
        p: target probabilities, shape (..., k).
        q: predicted probabilities, broadcastable, same k.

    Returns:
        Array of shape ``broadcast(p, q).shape[:-1]``, >= 0.

    Examples:
        >>> round(float(kl_divergence([1.0, 0.0], [0.5, 0.5])), 12) == round(math.log(2), 12)
        True
    """
    where = "kl_divergence"
    p, q = _probs(p, "p", where), _probs(q, "q", where)
    _same_k(p, q, ("p", "q"), where)
    logq = _log(q, None)
    with np.errstate(invalid="ignore"):
        diff = _log(p, None) - logq  # -inf - (-inf) only where p = 0, whose weight is 0
    return np.maximum(_weighted_log_sum(p, np.where(np.isnan(diff), 0.0, diff)), 0.0)


def reverse_kl(p: Any, q: Any, *, log_zero: float | None = None) -> np.ndarray:
    r"""Reverse KL :math:`\mathrm{RKL}(p,q) = \mathrm{KL}(q\Vert p) = \sum_j q_j\log(q_j/p_j)`.

    :math:`\mathrm{RCE}(p,q) = \mathrm{RKL}(p,q) + H(q)` also holds with the same ``log_zero``.

    Args:
        p: teacher (target) probabilities, shape (..., k).
        q: student probabilities, broadcastable, same k.
        log_zero: ``None`` (``inf`` where :math:`p_j = 0 < q_j`) or a float < 0 clamping
            :math:`\log p`.

    Returns:
        Array of shape ``broadcast(p, q).shape[:-1]``.

    Examples:
        >>> float(reverse_kl([0.5, 0.5], [0.5, 0.5]))
        0.0
    """
    where = "reverse_kl"
    lz = _check_log_zero(log_zero, where)
    p, q = _probs(p, "p", where), _probs(q, "q", where)
    _same_k(p, q, ("p", "q"), where)
    return _weighted_log_sum(q, _log(q, None)) - _weighted_log_sum(q, _log(p, lz))


# --------------------------------------------------------------------------------------------------
# Logit gradients, Eqs. (34)-(37) and the binary sigmoid forms (MATH.md §6.5)
# --------------------------------------------------------------------------------------------------


def _logits_and_teacher(z: Any, p: Any, where: str) -> tuple[np.ndarray, np.ndarray]:
    z = _logits(z, where)
    p = _probs(p, "p", where)
    _same_k(z, p, ("z", "p"), where)
    return z, p


def _teacher_log(p: np.ndarray, log_zero: float | None, where: str) -> np.ndarray:
    if log_zero is None and np.any(p == 0):
        raise ValueError(
            f"`p` of {where} must be > 0 everywhere when `log_zero` is None (log 0 makes the loss infinite). "
            "Got zero entries instead; pass log_zero=-4 (Wang et al.) or -100 (PyTorch) to clamp."
        )
    return _log(p, log_zero)


def grad_ce_logits(z: Any, p: Any) -> np.ndarray:
    r"""Gradient of :math:`\mathrm{CE}(p, \mathrm{softmax}(z))` in the student logits, Eq. (34).

    .. math:: \partial_{z_i}\mathrm{CE}(p,q) = q_i - p_i,\qquad q = \mathrm{softmax}(z).

    Args:
        z: student logits, array of shape (..., k), finite (extreme values are fine).
        p: teacher probabilities, broadcastable, same k.

    Returns:
        Array of shape ``broadcast(z, p).shape``.

    Examples:
        >>> grad_ce_logits([0.0, 0.0], [1.0, 0.0]).tolist()
        [-0.5, 0.5]
    """
    z, p = _logits_and_teacher(z, p, "grad_ce_logits")
    return softmax(z, axis=-1) - p


def grad_kl_logits(z: Any, p: Any) -> np.ndarray:
    r"""Gradient of :math:`\mathrm{KL}(p\Vert\mathrm{softmax}(z))`, Eq. (35): :math:`q_i - p_i` (H(p) is constant).

    Args:
        z: student logits, shape (..., k).
        p: teacher probabilities, broadcastable, same k.

    Returns:
        Array of shape ``broadcast(z, p).shape``.

    Examples:
        >>> grad_kl_logits([0.0, 0.0], [0.5, 0.5]).tolist()
        [0.0, 0.0]
    """
    z, p = _logits_and_teacher(z, p, "grad_kl_logits")
    return softmax(z, axis=-1) - p


def grad_rce_logits(z: Any, p: Any, *, log_zero: float | None = None) -> np.ndarray:
    r"""Gradient of :math:`\mathrm{RCE}(p, \mathrm{softmax}(z))` in the student logits, Eq. (36).

    .. math:: \partial_{z_i}\mathrm{RCE}(p,q) = q_i\Big(\sum_j q_j\log p_j - \log p_i\Big).

    Args:
        z: student logits, shape (..., k).
        p: teacher probabilities, broadcastable, same k; zeros need ``log_zero``.
        log_zero: clamp for :math:`\log p` (float < 0), or ``None``.

    Returns:
        Array of shape ``broadcast(z, p).shape``.

    Raises:
        ValueError: if ``p`` has zeros and ``log_zero`` is None (the loss is infinite).

    Examples:
        >>> grad_rce_logits([0.0, 0.0], [0.5, 0.5]).tolist()
        [0.0, 0.0]
    """
    where = "grad_rce_logits"
    lz = _check_log_zero(log_zero, where)
    z, p = _logits_and_teacher(z, p, where)
    q = softmax(z, axis=-1)
    logp = _teacher_log(p, lz, where)
    return q * (np.sum(q * logp, axis=-1, keepdims=True) - logp)


def grad_rkl_logits(z: Any, p: Any, *, log_zero: float | None = None) -> np.ndarray:
    r"""Gradient of :math:`\mathrm{RKL}(p, \mathrm{softmax}(z)) = \mathrm{KL}(q\Vert p)`, Eq. (37).

    .. math:: \partial_{z_i}\mathrm{RKL}(p,q) = q_i\Big(\log\frac{q_i}{p_i} - \mathrm{KL}(q\Vert p)\Big).

    :math:`\log q` is taken as ``log_softmax(z)``, so extreme logits stay finite.

    Args:
        z: student logits, shape (..., k).
        p: teacher probabilities, broadcastable, same k; zeros need ``log_zero``.
        log_zero: clamp for :math:`\log p` (float < 0), or ``None``.

    Returns:
        Array of shape ``broadcast(z, p).shape``.

    Raises:
        ValueError: if ``p`` has zeros and ``log_zero`` is None.

    Examples:
        >>> grad_rkl_logits([0.0, 0.0], [0.5, 0.5]).tolist()
        [0.0, 0.0]
    """
    where = "grad_rkl_logits"
    lz = _check_log_zero(log_zero, where)
    z, p = _logits_and_teacher(z, p, where)
    logq = log_softmax(z, axis=-1)
    q = np.exp(logq)
    ratio = logq - _teacher_log(p, lz, where)
    return q * (ratio - np.sum(q * ratio, axis=-1, keepdims=True))


def _binary_inputs(z: Any, y: Any, where: str) -> tuple[np.ndarray, np.ndarray]:
    z, _ = _as_float(z, "z", where)
    y, eps = _as_float(y, "y", where)
    tol = max(1e-9, 4.0 * eps)
    if np.any(y < -tol) or np.any(y > 1 + tol):
        raise ValueError(f"`y` of {where} must be probabilities in [0, 1]. Got {y[(y < -tol) | (y > 1 + tol)].ravel()[:3].tolist()} instead.")
    try:
        np.broadcast_shapes(z.shape, y.shape)
    except ValueError as exc:
        raise ValueError(f"`z` and `y` of {where} must have broadcastable shapes. Got {z.shape} and {y.shape} instead.") from exc
    return z, np.clip(y, 0.0, 1.0)


def _logit_clamped(y: np.ndarray, log_zero: float | None, where: str) -> np.ndarray:
    if log_zero is None and np.any((y == 0) | (y == 1)):
        raise ValueError(
            f"`y` of {where} must lie in (0, 1) when `log_zero` is None (logit(0) and logit(1) are infinite). "
            "Got hard labels instead; pass log_zero=-4 or -100 to clamp."
        )
    with np.errstate(divide="ignore"):
        log_y, log_1my = np.log(y), np.log1p(-y)
    if log_zero is not None:
        log_y, log_1my = np.maximum(log_y, log_zero), np.maximum(log_1my, log_zero)
    return log_y - log_1my


def grad_bce_logit(z: Any, y: Any) -> np.ndarray:
    r"""Gradient of binary CE :math:`-[y\log s + (1-y)\log(1-s)]`, :math:`s=\sigma(z)`: :math:`s - y`.

    Args:
        z: student logit(s), any shape.
        y: teacher probability of the positive class, broadcastable, in [0, 1].

    Returns:
        Array of the broadcast shape.

    Examples:
        >>> float(grad_bce_logit(0.0, 1.0))
        -0.5
    """
    z, y = _binary_inputs(z, y, "grad_bce_logit")
    return expit(z) - y


def grad_rbce_logit(z: Any, y: Any, *, log_zero: float | None = None) -> np.ndarray:
    r"""Gradient of binary RCE :math:`-[s\log y + (1-s)\log(1-y)]`: :math:`-s(1-s)\,\mathrm{logit}(y)`.

    With ``log_zero`` the logs of :math:`y` and :math:`1-y` are clamped at that value (hard labels allowed).

    Args:
        z: student logit(s), any shape.
        y: teacher probability, broadcastable, in (0, 1) (or [0, 1] with ``log_zero``).
        log_zero: clamp (float < 0) or ``None``.

    Returns:
        Array of the broadcast shape.

    Examples:
        >>> round(float(grad_rbce_logit(0.0, 0.75)), 4)  # -0.25 * log(3)
        -0.2747
    """
    where = "grad_rbce_logit"
    lz = _check_log_zero(log_zero, where)
    z, y = _binary_inputs(z, y, where)
    s_1ms = expit(z) * expit(-z)  # s(1-s) without cancellation at extreme z
    return -s_1ms * _logit_clamped(y, lz, where)


def grad_binary_rkl_logit(z: Any, y: Any, *, log_zero: float | None = None) -> np.ndarray:
    r"""Gradient of binary RKL :math:`\mathrm{KL}(s\Vert y)`: :math:`s(1-s)(\mathrm{logit}(s) - \mathrm{logit}(y))`.

    :math:`\mathrm{logit}(s) = z` exactly, so no precision is lost at extreme logits.

    Args:
        z: student logit(s), any shape.
        y: teacher probability, broadcastable, in (0, 1) (or [0, 1] with ``log_zero``).
        log_zero: clamp (float < 0) or ``None``.

    Returns:
        Array of the broadcast shape.

    Examples:
        >>> float(grad_binary_rkl_logit(0.0, 0.5))
        0.0
    """
    where = "grad_binary_rkl_logit"
    lz = _check_log_zero(log_zero, where)
    z, y = _binary_inputs(z, y, where)
    return expit(z) * expit(-z) * (z - _logit_clamped(y, lz, where))


# --------------------------------------------------------------------------------------------------
# Label smoothing and Proposition 2 (MATH.md §6.4)
# --------------------------------------------------------------------------------------------------


def binary_probs(y: Any) -> np.ndarray:
    r"""Two-class probability vectors :math:`[1-y, y]` from positive-class probabilities.

    Args:
        y: probabilities of class 1, any shape, in [0, 1].

    Returns:
        Array of shape ``y.shape + (2,)``.

    Examples:
        >>> binary_probs([0.25]).tolist()
        [[0.75, 0.25]]
    """
    arr, eps = _as_float(y, "y", "binary_probs")
    tol = max(1e-9, 4.0 * eps)
    if np.any(arr < -tol) or np.any(arr > 1 + tol):
        raise ValueError(f"`y` of binary_probs must be in [0, 1]. Got {arr[(arr < -tol) | (arr > 1 + tol)].ravel()[:3].tolist()} instead.")
    arr = np.clip(arr, 0.0, 1.0)
    return np.stack([1.0 - arr, arr], axis=-1)


def smooth_labels(y: Any, alpha: float, *, k: int = 2) -> np.ndarray:
    r"""Label-proportional smoothing of Proposition 2: :math:`\tilde y_j = \alpha y_j + (1-\alpha)/k`.

    The map is elementwise, so it applies both to probability vectors with ``k`` classes on the last
    axis and (``k = 2``) to scalar positive-class probabilities: :math:`y \mapsto 0.5 + \alpha(y-0.5)`.
    It keeps the argmax for :math:`\alpha > 0`; :math:`\alpha = 0` gives the uniform label.

    Args:
        y: labels in [0, 1]; for ``k != 2`` probability vectors of shape (..., k).
        alpha: smoothing strength in [0, 1] (1 = unchanged).
        k: number of classes, int >= 2 (keyword-only).

    Returns:
        Array of ``y``'s shape.

    Raises:
        ValueError: for ``alpha`` outside [0, 1], ``k < 2``, entries outside [0, 1], or (``k != 2``)
            a last axis that is not ``k`` long or rows not summing to 1.

    Examples:
        >>> smooth_labels([1.0, 0.0], 0.5).tolist()
        [0.75, 0.25]
    """
    where = "smooth_labels"
    a = _alpha(alpha, where)
    if isinstance(k, bool) or not isinstance(k, int) or k < 2:
        raise ValueError(f"`k` of {where} must be an int >= 2. Got {k!r} instead.")
    if k == 2:
        arr, eps = _as_float(y, "y", where)
        tol = max(1e-9, 4.0 * eps)
        if np.any(arr < -tol) or np.any(arr > 1 + tol):
            raise ValueError(f"`y` of {where} must be in [0, 1]. Got {arr[(arr < -tol) | (arr > 1 + tol)].ravel()[:3].tolist()} instead.")
        arr = np.clip(arr, 0.0, 1.0)
    else:
        arr = _probs(y, "y", where)
        if arr.shape[-1] != k:
            raise ValueError(f"`y` of {where} must have k={k} classes on the last axis. Got shape {arr.shape} instead.")
    return a * arr + (1.0 - a) / k


def ce_minimiser(labels: Any, alpha: float) -> np.ndarray:
    r"""Pointwise population-CE minimiser after smoothing: the smoothed label itself.

    .. math:: \arg\min_{q\in\Delta_k}\mathrm{CE}(\tilde y, q) = \tilde y = \alpha y + (1-\alpha)/k

    (Gibbs' inequality: :math:`\mathrm{CE}(\tilde y,q) - H(\tilde y) = \mathrm{KL}(\tilde y\Vert q) \ge 0`).
    It moves with :math:`\alpha` (Proposition 2's contrast case).

    Args:
        labels: teacher labels (soft or one-hot), shape (..., k), rows on the simplex.
        alpha: smoothing strength in [0, 1].

    Returns:
        Array of shape ``labels.shape``.

    Examples:
        >>> ce_minimiser([[0.0, 1.0]], 0.5).tolist()
        [[0.25, 0.75]]
    """
    p = _probs(labels, "labels", "ce_minimiser")
    a = _alpha(alpha, "ce_minimiser")
    return a * p + (1.0 - a) / p.shape[-1]


def rce_minimiser(labels: Any, alpha: float) -> np.ndarray:
    r"""Pointwise population-RCE minimiser after smoothing (Proposition 2).

    :math:`\mathrm{RCE}(\tilde y, q) = -\sum_j q_j\log\tilde y_j` is linear in :math:`q`, and
    :math:`\log(\alpha y_j + (1-\alpha)/k)` is increasing in :math:`y_j`, so the minimum over the
    simplex is attained at the vertex :math:`\arg\max_j y_j` for every :math:`\alpha\in(0,1]`: the
    minimiser does not change with smoothing. Ties (including :math:`\alpha = 0`, where every
    prediction is optimal) are resolved by spreading the mass uniformly over the tied classes.

    Args:
        labels: teacher labels (soft or one-hot), shape (..., k), rows on the simplex.
        alpha: smoothing strength in [0, 1].

    Returns:
        Array of shape ``labels.shape`` (one-hot rows unless there are ties).

    Examples:
        >>> rce_minimiser([[0.4, 0.6]], 0.1).tolist()
        [[0.0, 1.0]]
    """
    p = _probs(labels, "labels", "rce_minimiser")
    a = _alpha(alpha, "rce_minimiser")
    smoothed = a * p + (1.0 - a) / p.shape[-1]
    top = smoothed >= smoothed.max(axis=-1, keepdims=True) - 1e-12  # tied maxima
    return top / top.sum(axis=-1, keepdims=True)


@dataclass(frozen=True)
class SmoothingTable:
    r"""Proposition 2 summarised: CE and RCE minimisers for each smoothing strength and label.

    Attributes:
        alphas: smoothing strengths, shape (A,).
        labels: the unsmoothed teacher labels, shape (N, k).
        smoothed: :math:`\tilde y`, shape (A, N, k).
        ce: CE minimisers, shape (A, N, k).
        rce: RCE minimisers, shape (A, N, k).
        ce_accuracy: mass the CE minimiser puts on the unsmoothed argmax (expected accuracy of a
            prediction drawn from it against the teacher's hard label), shape (A, N).
        rce_accuracy: the same for the RCE minimiser, shape (A, N).
        ce_shift: total-variation distance of the CE minimiser from its value at :math:`\alpha = 1`.
        rce_shift: the same for RCE (0 for every :math:`\alpha > 0`: Proposition 2).
    """

    alphas: np.ndarray
    labels: np.ndarray
    smoothed: np.ndarray
    ce: np.ndarray
    rce: np.ndarray
    ce_accuracy: np.ndarray
    rce_accuracy: np.ndarray
    ce_shift: np.ndarray
    rce_shift: np.ndarray

    def rows(self) -> list[dict[str, float]]:
        """One dict per (alpha, label) with the label's top probability and both minimisers' scores."""
        out = []
        for a in range(self.alphas.size):
            for i in range(self.labels.shape[0]):
                out.append(
                    {
                        "alpha": float(self.alphas[a]),
                        "label": i,
                        "teacher_top": float(self.labels[i].max()),
                        "smoothed_top": float(self.smoothed[a, i].max()),
                        "ce_accuracy": float(self.ce_accuracy[a, i]),
                        "rce_accuracy": float(self.rce_accuracy[a, i]),
                        "ce_shift": float(self.ce_shift[a, i]),
                        "rce_shift": float(self.rce_shift[a, i]),
                    }
                )
        return out


def smoothing_table(labels: Any, alphas: Sequence[float]) -> SmoothingTable:
    r"""CE vs RCE population minimisers under label-proportional smoothing (Proposition 2).

    For each :math:`\alpha` and each teacher label :math:`y`, the smoothed label
    :math:`\tilde y = \alpha y + (1-\alpha)/k`, the CE minimiser :math:`\tilde y` and the RCE minimiser
    :math:`e_{\arg\max y}`; their accuracy against the unsmoothed argmax and how far each moved from its
    :math:`\alpha = 1` value (total variation :math:`\tfrac12\lVert\cdot\rVert_1`).

    Args:
        labels: teacher labels, shape (N, k), rows on the simplex (use :func:`binary_probs` for
            positive-class probabilities).
        alphas: smoothing strengths in [0, 1], non-empty.

    Returns:
        A :class:`SmoothingTable`.

    Raises:
        ValueError: for labels that are not (N, k) probability rows or alphas outside [0, 1].

    Examples:
        >>> t = smoothing_table(binary_probs([0.9]), [1.0, 0.5])
        >>> t.rce_shift.tolist(), np.round(t.ce_shift[:, 0], 2).tolist()
        ([[0.0], [0.0]], [0.0, 0.2])
    """
    where = "smoothing_table"
    p = _probs(labels, "labels", where)
    if p.ndim != 2:
        raise ValueError(f"`labels` of {where} must have shape (N, k). Got shape {p.shape} instead.")
    if isinstance(alphas, (str, bytes)) or len(alphas) == 0:
        raise ValueError(f"`alphas` of {where} must be a non-empty sequence of floats in [0, 1]. Got {alphas!r} instead.")
    alpha_list = [_alpha(a, where) for a in alphas]
    ce = np.stack([ce_minimiser(p, a) for a in alpha_list])  # (A, N, k)
    rce = np.stack([rce_minimiser(p, a) for a in alpha_list])
    hard = p >= p.max(axis=-1, keepdims=True) - 1e-12  # unsmoothed argmax set, (N, k)
    ce_ref, rce_ref = ce_minimiser(p, 1.0), rce_minimiser(p, 1.0)
    return SmoothingTable(
        alphas=np.asarray(alpha_list),
        labels=p,
        smoothed=ce.copy(),
        ce=ce,
        rce=rce,
        ce_accuracy=np.sum(ce * hard, axis=-1),
        rce_accuracy=np.sum(rce * hard, axis=-1),
        ce_shift=0.5 * np.abs(ce - ce_ref).sum(axis=-1),
        rce_shift=0.5 * np.abs(rce - rce_ref).sum(axis=-1),
    )
