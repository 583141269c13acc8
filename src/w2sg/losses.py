r"""Binary, logit-space training objectives for weak-to-strong experiments.

Every objective is a per-example function of the student logit ``z`` (shape ``[B]``) and the
teacher's soft label ``y`` in ``[0, 1]`` (shape ``[B]``); :math:`s = \sigma(z)` is the student's
probability of the positive class. Reductions happen in the caller.

The seven objectives of the paper (MATH.md Sections 6.1, 7.1-7.3 and 9):

========  =====================================================================================
``ce``    :math:`-[y\log s + (1-y)\log(1-s)]`, binary cross-entropy (the usual W2S loss).
``rce``   :math:`-[s\log y + (1-s)\log(1-y)]`, reverse cross-entropy, ``log 0`` clamped.
``kl``    :math:`\mathrm{KL}(y\Vert s)`, the full per-sample KL (not halved).
``rkl``   :math:`\mathrm{KL}(s\Vert y)`, reverse KL, ``log 0`` clamped.
``aux``   Burns et al.'s auxiliary confidence loss: CE against :math:`(1-\alpha)y+\alpha\hat s`.
``cace``  confidence-adaptive CE: RCE on low-confidence teacher labels, CE elsewhere.
``sl``    symmetric cross-entropy :math:`\alpha\,\mathrm{CE}+\beta\,\mathrm{RCE}`.
========  =====================================================================================

Inputs of any floating dtype are accepted; ``bfloat16``/``float16`` are promoted to ``float32``
before any arithmetic, ``float64`` is kept (so :func:`torch.autograd.gradcheck` works). Teacher
labels are treated as constants: losses are differentiated with respect to the logits only.

Objects built by :func:`make_objective` follow the :class:`Objective` protocol that the trainer
uses (see ``docs/internals.md``).

Examples:
    >>> import torch
    >>> objective = make_objective("ce")
    >>> objective(torch.tensor([0.0]), torch.tensor([0.5]))
    tensor([0.6931])
"""

from __future__ import annotations

import difflib
import inspect
import math
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "DEFAULT_LOG_ZERO",
    "Objective",
    "available_objectives",
    "aux_alpha",
    "aux_loss",
    "aux_threshold",
    "binary_entropy",
    "cace_loss",
    "cross_entropy",
    "evaluation_loss",
    "kl_divergence",
    "make_objective",
    "register_objective",
    "reverse_cross_entropy",
    "reverse_kl_divergence",
    "smooth_labels",
    "symmetric_cross_entropy",
]

DEFAULT_LOG_ZERO: float = -100.0
"""Default floor for :math:`\\log y` in RCE/RKL; PyTorch's ``binary_cross_entropy`` uses -100."""


# --------------------------------------------------------------------------------------------
# Input checks (run once, at the public boundary)
# --------------------------------------------------------------------------------------------


def _compute_dtype(*tensors: Tensor) -> torch.dtype:
    # bf16/fp16 lose too much in log/sigmoid: compute in float32 unless a float64 input asks for more.
    return torch.float64 if any(t.dtype == torch.float64 for t in tensors) else torch.float32


def _check_logits(logits: Any, *, owner: str) -> Tensor:
    if not isinstance(logits, Tensor):
        raise TypeError(f"`logits` of {owner} must be a torch.Tensor. Got {type(logits).__name__} instead.")
    if not logits.is_floating_point():
        raise TypeError(f"`logits` of {owner} must have a floating dtype. Got {logits.dtype} instead.")
    if logits.ndim != 1:
        raise ValueError(
            f"`logits` of {owner} must be a 1-D tensor of shape [B]. Got shape {tuple(logits.shape)} instead."
        )
    if logits.numel() and not bool(torch.isfinite(logits.detach()).all()):
        raise ValueError(f"`logits` of {owner} must be finite. Got NaN or infinite values instead.")
    return logits


def _check_probabilities(values: Any, *, name: str, owner: str, like: Tensor) -> Tensor:
    if not isinstance(values, Tensor):
        raise TypeError(f"`{name}` of {owner} must be a torch.Tensor. Got {type(values).__name__} instead.")
    if values.shape != like.shape:
        raise ValueError(
            f"`{name}` of {owner} must have the same shape as `logits` {tuple(like.shape)}. "
            f"Got shape {tuple(values.shape)} instead."
        )
    if values.dtype == torch.bool or not values.is_floating_point():
        values = values.to(torch.float32)
    if values.numel():
        detached = values.detach()
        if not bool(torch.isfinite(detached).all()):
            raise ValueError(f"`{name}` of {owner} must be finite probabilities in [0, 1]. Got NaN or inf instead.")
        lo, hi = float(detached.min()), float(detached.max())
        if lo < 0.0 or hi > 1.0:
            raise ValueError(
                f"`{name}` of {owner} must be probabilities in [0, 1]. Got values in [{lo:g}, {hi:g}] instead."
            )
    return values


def _prepare(logits: Any, targets: Any, *, owner: str) -> tuple[Tensor, Tensor]:
    logits = _check_logits(logits, owner=owner)
    targets = _check_probabilities(targets, name="targets", owner=owner, like=logits)
    dtype = _compute_dtype(logits, targets)
    return logits.to(dtype), targets.detach().to(dtype)


def _check_log_zero(log_zero: Any, *, owner: str) -> float:
    if isinstance(log_zero, bool) or not isinstance(log_zero, (int, float)):
        raise TypeError(f"`log_zero` of {owner} must be a float <= 0. Got {type(log_zero).__name__} instead.")
    if not math.isfinite(log_zero) or log_zero > 0:
        raise ValueError(f"`log_zero` of {owner} must be a finite float <= 0. Got {log_zero!r} instead.")
    return float(log_zero)


def _check_real(
    value: Any,
    *,
    name: str,
    owner: str,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Check that ``value`` is a real number in an interval and return it as a float."""
    left = "(" if low_open else "["
    right = ")" if high_open else "]"
    low_text = "-inf" if low is None else f"{low:g}"
    high_text = "inf" if high is None else f"{high:g}"
    interval = f"{left}{low_text}, {high_text}{right}"
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"`{name}` of {owner} must be a float in {interval}. Got {type(value).__name__} instead.")
    value = float(value)
    bad = not math.isfinite(value)
    if low is not None:
        bad = bad or (value <= low if low_open else value < low)
    if high is not None:
        bad = bad or (value >= high if high_open else value > high)
    if bad:
        raise ValueError(f"`{name}` of {owner} must be a float in {interval}. Got {value!r} instead.")
    return value


# --------------------------------------------------------------------------------------------
# Private kernels (inputs already checked and promoted)
# --------------------------------------------------------------------------------------------


def _ce(z: Tensor, y: Tensor) -> Tensor:
    # log s = -softplus(-z), log(1-s) = -softplus(z): finite for any finite z; gradient is s - y exactly.
    return y * F.softplus(-z) + (1.0 - y) * F.softplus(z)


def _clamped_logs(y: Tensor, log_zero: float) -> tuple[Tensor, Tensor]:
    # log 0 = -inf is replaced by the floor `log_zero` (Wang et al.'s A; PyTorch BCE's -100).
    return torch.log(y).clamp_min(log_zero), torch.log1p(-y).clamp_min(log_zero)


def _rce(z: Tensor, y: Tensor, log_zero: float) -> Tensor:
    log_y, log_1my = _clamped_logs(y, log_zero)
    # sigmoid(-z) rather than 1 - sigmoid(z): exact when s is near 1.
    return -(torch.sigmoid(z) * log_y + torch.sigmoid(-z) * log_1my)


def _entropy(p: Tensor) -> Tensor:
    # xlogy gives 0 log 0 = 0; "0.0 -" rather than unary minus avoids returning -0.0.
    return 0.0 - (torch.xlogy(p, p) + torch.xlogy(1.0 - p, 1.0 - p))


def _kl(z: Tensor, y: Tensor) -> Tensor:
    return _ce(z, y) - _entropy(y)


def _rkl(z: Tensor, y: Tensor, log_zero: float) -> Tensor:
    s, one_minus_s = torch.sigmoid(z), torch.sigmoid(-z)
    log_y, log_1my = _clamped_logs(y, log_zero)
    # log s = logsigmoid(z), log(1-s) = logsigmoid(-z): finite even where s rounds to 0 or 1.
    return s * (F.logsigmoid(z) - log_y) + one_minus_s * (F.logsigmoid(-z) - log_1my)


def _aux_threshold(z: Tensor, y: Tensor) -> Tensor:
    # quantile_{1 - mean y} over logits: sigma is monotone, so the hardened set equals that of the
    # quantile over s (linear interpolation keeps the same order statistics), and stays exact where
    # sigma(z) rounds to 0 or 1 in float32.
    q = (1.0 - y.mean()).clamp(0.0, 1.0)
    return torch.quantile(z.detach(), q.to(z.dtype))


def _aux(z: Tensor, y: Tensor, alpha: float, logit_threshold: Tensor) -> Tensor:
    hard = (z.detach() > logit_threshold).to(z.dtype)  # \hat s, detached
    return _ce(z, (1.0 - alpha) * y + alpha * hard)


def _cace(z: Tensor, y: Tensor, threshold: float, log_zero: float) -> Tensor:
    low_confidence = (y - 0.5).abs() < threshold
    return torch.where(low_confidence, _rce(z, y, log_zero), _ce(z, y))


# --------------------------------------------------------------------------------------------
# Public pure functions
# --------------------------------------------------------------------------------------------


def cross_entropy(logits: Tensor, targets: Tensor) -> Tensor:
    r"""Binary cross-entropy of the student against soft teacher labels (CE/BCE).

    Let :math:`z` denote ``logits`` and :math:`y` denote ``targets``, both of shape ``[B]``, and
    :math:`s=\sigma(z)`. Then

    .. math::
        \mathrm{CE}(y, s) = -\big[y\log s + (1-y)\log(1-s)\big]
                          = y\,\mathrm{softplus}(-z) + (1-y)\,\mathrm{softplus}(z),

    whose gradient is :math:`\partial_z\mathrm{CE} = s - y` (MATH.md Eq. (34), binary form).
    The softplus form is finite for every finite logit (e.g. :math:`|z| = 10^4`).

    Args:
        logits: float tensor of shape ``[B]``, student logits :math:`z`; any floating dtype.
        targets: tensor of shape ``[B]`` with values in ``[0, 1]``, teacher soft labels :math:`y`.

    Returns:
        Per-example loss of shape ``[B]`` (float32, or float64 for float64 inputs).

    Raises:
        TypeError: if an input is not a tensor or ``logits`` is not floating point.
        ValueError: on shape mismatch, non-finite logits or targets outside ``[0, 1]``.

    References:
        MATH.md Section 6.1 (definition) and Section 9 (binary heads).

    Examples:
        >>> cross_entropy(torch.tensor([0.0, 1e4]), torch.tensor([1.0, 1.0]))
        tensor([0.6931, 0.0000])
    """
    z, y = _prepare(logits, targets, owner="cross_entropy")
    return _ce(z, y)


def reverse_cross_entropy(logits: Tensor, targets: Tensor, *, log_zero: float = DEFAULT_LOG_ZERO) -> Tensor:
    r"""Reverse binary cross-entropy (RCE/RBCE): the student's probabilities weight the teacher's logs.

    With :math:`s=\sigma(z)` for ``logits`` :math:`z` and teacher labels :math:`y` (``targets``),

    .. math::
        \mathrm{RCE}(y, s) = -\big[s\,\overline{\log}\,y + (1-s)\,\overline{\log}(1-y)\big],
        \qquad \overline{\log}\,u = \max(\log u, A),

    with :math:`A` = ``log_zero``. The gradient is
    :math:`\partial_z\mathrm{RCE} = -s(1-s)\,(\overline{\log}\,y - \overline{\log}(1-y))`, i.e.
    :math:`-s(1-s)\,\mathrm{logit}(y)` away from the clamp (MATH.md Eq. (36), binary form).

    Args:
        logits: float tensor of shape ``[B]``; any floating dtype.
        targets: tensor of shape ``[B]`` in ``[0, 1]``; labels 0 and 1 use the clamp.
        log_zero: floor :math:`A \le 0` for :math:`\log y`; -100 as PyTorch's BCE (the paper's
            code), -4 as Wang et al. (2019).

    Returns:
        Per-example loss of shape ``[B]``.

    Raises:
        TypeError, ValueError: on invalid inputs (see :func:`cross_entropy`) or ``log_zero > 0``.

    References:
        MATH.md Section 6.1 (RCE) and Section 9; Wang et al. (2019), symmetric cross-entropy.

    Examples:
        >>> reverse_cross_entropy(torch.tensor([0.0]), torch.tensor([1.0]), log_zero=-4.0)
        tensor([2.])
    """
    log_zero = _check_log_zero(log_zero, owner="reverse_cross_entropy")
    z, y = _prepare(logits, targets, owner="reverse_cross_entropy")
    return _rce(z, y, log_zero)


def binary_entropy(probs: Tensor) -> Tensor:
    r"""Binary entropy :math:`H(p) = -[p\log p + (1-p)\log(1-p)]` with :math:`0\log 0 = 0`.

    Args:
        probs: tensor of probabilities in ``[0, 1]``, any shape.

    Returns:
        Tensor of the same shape (float32, or float64 for float64 input), in :math:`[0, \log 2]`.

    Examples:
        >>> binary_entropy(torch.tensor([0.0, 0.5]))
        tensor([0.0000, 0.6931])
    """
    if not isinstance(probs, Tensor):
        raise TypeError(f"`probs` of binary_entropy must be a torch.Tensor. Got {type(probs).__name__} instead.")
    p = _check_probabilities(probs, name="probs", owner="binary_entropy", like=probs)
    return _entropy(p.detach().to(_compute_dtype(p)))


def kl_divergence(logits: Tensor, targets: Tensor) -> Tensor:
    r"""Forward KL of the teacher label to the student, :math:`\mathrm{KL}(y\Vert s)`, per example.

    .. math::
        \mathrm{KL}(y\Vert s) = y\log\frac{y}{s} + (1-y)\log\frac{1-y}{1-s}
                              = \mathrm{CE}(y, s) - H(y),

    with :math:`0\log 0 = 0`. This is the full per-sample KL; the paper's code averaged
    ``F.kl_div`` over both classes, i.e. reported half of it. The gradient is :math:`s - y`
    (MATH.md Eq. (35)). Computed as CE minus the teacher entropy, so where the two nearly cancel
    the result can be negative by a rounding error (about ``1e-7`` in float32).

    Args:
        logits: float tensor of shape ``[B]``.
        targets: tensor of shape ``[B]`` in ``[0, 1]``.

    Returns:
        Per-example divergence of shape ``[B]``.

    References:
        MATH.md Sections 6.1 and 9; it equals ``w2sg.bregman.BinaryKL().divergence(y, s)``.

    Examples:
        >>> kl_divergence(torch.tensor([0.0]), torch.tensor([0.5]))
        tensor([0.])
    """
    z, y = _prepare(logits, targets, owner="kl_divergence")
    return _kl(z, y)


def reverse_kl_divergence(logits: Tensor, targets: Tensor, *, log_zero: float = DEFAULT_LOG_ZERO) -> Tensor:
    r"""Reverse KL of the student to the teacher label, :math:`\mathrm{KL}(s\Vert y)`, per example.

    .. math::
        \mathrm{RKL}(y, s) = s\big(\log s - \overline{\log}\,y\big)
                           + (1-s)\big(\log(1-s) - \overline{\log}(1-y)\big)
                           = \mathrm{RCE}(y, s) - H(s),

    with :math:`\overline{\log}\,u = \max(\log u, A)`, :math:`A` = ``log_zero``. The gradient is
    :math:`s(1-s)\,(\mathrm{logit}\,s - \mathrm{logit}\,y)` away from the clamp (MATH.md Eq. (37)).

    Args:
        logits: float tensor of shape ``[B]``.
        targets: tensor of shape ``[B]`` in ``[0, 1]``.
        log_zero: floor :math:`A \le 0` for :math:`\log y` and :math:`\log(1-y)`.

    Returns:
        Per-example divergence of shape ``[B]``.

    References:
        MATH.md Sections 6.1 and 9.

    Examples:
        >>> reverse_kl_divergence(torch.tensor([0.0]), torch.tensor([0.5]))
        tensor([0.])
    """
    log_zero = _check_log_zero(log_zero, owner="reverse_kl_divergence")
    z, y = _prepare(logits, targets, owner="reverse_kl_divergence")
    return _rkl(z, y, log_zero)


def aux_alpha(progress: float, *, alpha_max: float, warmup_frac: float) -> float:
    r"""AUX weight: a linear warm-up from 0 to ``alpha_max``, then constant.

    .. math::
        \alpha(\pi) = \alpha_{\max}\cdot\min\!\Big(1, \frac{\pi}{\pi_w}\Big),

    where :math:`\pi\in[0,1]` is the fraction of training done (``progress``) and :math:`\pi_w`
    is ``warmup_frac``; ``warmup_frac = 0`` means no warm-up (:math:`\alpha = \alpha_{\max}`).
    The openai/weak-to-strong code ramped to :math:`\pi_w\,\alpha_{\max}` and then jumped to
    :math:`\alpha_{\max}`; this is the linear ramp the paper describes (MATH.md Section 7.1).

    Args:
        progress: fraction of training done, in ``[0, 1]``.
        alpha_max: final weight in ``[0, 1]``.
        warmup_frac: fraction of training over which the weight ramps up, in ``[0, 1]``.

    Returns:
        The weight :math:`\alpha` in ``[0, alpha_max]``.

    Examples:
        >>> aux_alpha(0.1, alpha_max=0.5, warmup_frac=0.2)
        0.25
    """
    progress = _check_real(progress, name="progress", owner="aux_alpha", low=0.0, high=1.0)
    alpha_max = _check_real(alpha_max, name="alpha_max", owner="aux_alpha", low=0.0, high=1.0)
    warmup_frac = _check_real(warmup_frac, name="warmup_frac", owner="aux_alpha", low=0.0, high=1.0)
    if warmup_frac == 0.0:
        return alpha_max
    return alpha_max * min(1.0, progress / warmup_frac)


def aux_threshold(logits: Tensor, targets: Tensor) -> Tensor:
    r"""AUX hardening threshold over a whole optimiser batch, in logit space.

    .. math::
        t = \mathrm{quantile}_{1-\bar y}(s), \qquad \bar y = \frac1B\sum_i y_i,

    returned as the logit :math:`t_z = \mathrm{quantile}_{1-\bar y}(z)` (linear interpolation).
    Because :math:`\sigma` is monotone, :math:`\{i: z_i > t_z\} = \{i: s_i > t\}`, so about a
    fraction :math:`\bar y` of the batch is hardened to 1. Pass the concatenation of every
    micro-batch's logits so that the threshold is that of the optimiser batch (the paper's code
    used a batch of one). Ties at the threshold are not hardened.

    Args:
        logits: float tensor of shape ``[B]``, ``B >= 1``; gradients are not tracked.
        targets: tensor of shape ``[B]`` in ``[0, 1]``.

    Returns:
        Scalar tensor :math:`t_z`.

    Raises:
        ValueError: if the batch is empty.

    References:
        MATH.md Section 7.1 (Burns et al. 2023).

    Examples:
        >>> aux_threshold(torch.tensor([-1.0, 0.0, 1.0]), torch.tensor([0.0, 1.0, 0.5]))
        tensor(0.)
    """
    z, y = _prepare(logits, targets, owner="aux_threshold")
    if z.numel() == 0:
        raise ValueError("`logits` of aux_threshold must hold at least one example. Got an empty batch instead.")
    return _aux_threshold(z, y)


def aux_loss(
    logits: Tensor,
    targets: Tensor,
    *,
    alpha: float,
    logit_threshold: Tensor | float | None = None,
) -> Tensor:
    r"""Burns et al.'s auxiliary confidence loss (AUX), per example.

    .. math::
        \mathcal L_{\rm AUX} = (1-\alpha)\,\mathrm{CE}(y, s) + \alpha\,\mathrm{CE}(\hat s, s)
                             = \mathrm{CE}\big((1-\alpha)y + \alpha\hat s,\ s\big),
        \qquad \hat s = \mathbb 1[z > t_z]\ \text{(detached)},

    (MATH.md Eqs. (9)/(40)) where :math:`t_z` is the batch threshold of :func:`aux_threshold`.

    Args:
        logits: float tensor of shape ``[B]``.
        targets: tensor of shape ``[B]`` in ``[0, 1]``.
        alpha: weight of the hardened self-label in ``[0, 1]`` (see :func:`aux_alpha`).
        logit_threshold: threshold :math:`t_z` in logit space, computed over the optimiser batch;
            ``None`` computes it from this batch.

    Returns:
        Per-example loss of shape ``[B]``.

    Examples:
        >>> aux_loss(torch.tensor([2.0, -2.0]), torch.tensor([0.5, 0.5]), alpha=0.0)
        tensor([1.1269, 1.1269])
    """
    alpha = _check_real(alpha, name="alpha", owner="aux_loss", low=0.0, high=1.0)
    z, y = _prepare(logits, targets, owner="aux_loss")
    if logit_threshold is None:
        if z.numel() == 0:
            return z.new_zeros(0)
        threshold = _aux_threshold(z, y)
    else:
        threshold = torch.as_tensor(logit_threshold, dtype=z.dtype, device=z.device)
        if threshold.numel() != 1 or not bool(torch.isfinite(threshold)):
            raise ValueError(
                f"`logit_threshold` of aux_loss must be a finite scalar. Got {logit_threshold!r} instead."
            )
        threshold = threshold.reshape(())
    return _aux(z, y, alpha, threshold)


def cace_loss(
    logits: Tensor, targets: Tensor, *, threshold: float, log_zero: float = DEFAULT_LOG_ZERO
) -> Tensor:
    r"""Confidence-adaptive cross-entropy (CACE), per example.

    .. math::
        \mathcal L_{\rm CACE} = \mathbb 1\{|y-\tfrac12| < c\}\,\mathrm{RCE}(y, s)
                              + \mathbb 1\{|y-\tfrac12| \ge c\}\,\mathrm{CE}(y, s)

    (MATH.md Eq. (38)) with :math:`c` = ``threshold``: low-confidence teacher labels are fitted
    with RCE, confident ones with CE.

    Args:
        logits: float tensor of shape ``[B]``.
        targets: tensor of shape ``[B]`` in ``[0, 1]``.
        threshold: confidence threshold :math:`c \in [0, 0.5]`; 0 gives pure CE, values above
            every :math:`|y-\frac12|` give pure RCE.
        log_zero: floor for :math:`\log y` inside RCE.

    Returns:
        Per-example loss of shape ``[B]``.

    Examples:
        >>> cace_loss(torch.tensor([0.0, 0.0]), torch.tensor([0.4, 1.0]), threshold=0.2)
        tensor([0.7136, 0.6931])
    """
    threshold = _check_real(threshold, name="threshold", owner="cace_loss", low=0.0, high=0.5)
    log_zero = _check_log_zero(log_zero, owner="cace_loss")
    z, y = _prepare(logits, targets, owner="cace_loss")
    return _cace(z, y, threshold, log_zero)


def symmetric_cross_entropy(
    logits: Tensor,
    targets: Tensor,
    *,
    alpha: float = 1.0,
    beta: float = 0.1,
    log_zero: float = DEFAULT_LOG_ZERO,
) -> Tensor:
    r"""Symmetric cross-entropy (SL, Wang et al. 2019), per example.

    .. math::
        \mathcal L_{\rm SL} = \alpha\,\mathrm{CE}(y, s) + \beta\,\mathrm{RCE}(y, s)

    (MATH.md Eq. (39)). As in the paper's code, :math:`\alpha` weights CE and :math:`\beta`
    weights RCE (the paper's prose has them the other way round). Defaults are the README's
    ``SL_a1_b0.1``.

    Args:
        logits: float tensor of shape ``[B]``.
        targets: tensor of shape ``[B]`` in ``[0, 1]``.
        alpha: weight of CE, ``>= 0``.
        beta: weight of RCE, ``>= 0``.
        log_zero: floor for :math:`\log y` inside RCE.

    Returns:
        Per-example loss of shape ``[B]``.

    Examples:
        >>> symmetric_cross_entropy(torch.tensor([0.0]), torch.tensor([0.5]), alpha=1.0, beta=1.0)
        tensor([1.3863])
    """
    alpha = _check_real(alpha, name="alpha", owner="symmetric_cross_entropy", low=0.0)
    beta = _check_real(beta, name="beta", owner="symmetric_cross_entropy", low=0.0)
    log_zero = _check_log_zero(log_zero, owner="symmetric_cross_entropy")
    z, y = _prepare(logits, targets, owner="symmetric_cross_entropy")
    return alpha * _ce(z, y) + beta * _rce(z, y, log_zero)


def evaluation_loss(logits: Tensor, labels: Tensor) -> Tensor:
    r"""Test loss: binary cross-entropy against hard ground-truth labels, per example.

    .. math::
        \ell(z, y) = -\big[y\log\sigma(z) + (1-y)\log(1-\sigma(z))\big], \qquad y\in\{0,1\}.

    Args:
        logits: float tensor of shape ``[B]``.
        labels: tensor of shape ``[B]`` holding only 0 and 1 (bool, int or float).

    Returns:
        Per-example loss of shape ``[B]``.

    Raises:
        ValueError: if a label is not 0 or 1.

    References:
        MATH.md Section 9 ("test loss ... against the ground-truth hard labels").

    Examples:
        >>> evaluation_loss(torch.tensor([0.0]), torch.tensor([1]))
        tensor([0.6931])
    """
    z, y = _prepare(logits, labels, owner="evaluation_loss")
    if y.numel() and not bool(((y == 0) | (y == 1)).all()):
        bad = int(torch.nonzero((y != 0) & (y != 1))[0, 0])
        raise ValueError(
            f"`labels` of evaluation_loss must be hard labels 0 or 1. Got {float(y[bad]):g} at row {bad} instead."
        )
    return _ce(z, y)


def smooth_labels(targets: Any, alpha: float) -> Any:
    r"""Label-proportional smoothing towards the uniform label (Proposition 2).

    .. math::
        \tilde y = \alpha\,y + \frac{1-\alpha}{2} = \tfrac12 + \alpha\,(y - \tfrac12),

    which keeps the hard label (the side of ½) for :math:`\alpha > 0` and gives the uniform label
    at :math:`\alpha = 0`. Binary RCE's risk minimiser is unchanged by it; CE's moves towards ½.

    Args:
        targets: teacher probabilities in ``[0, 1]``, a ``torch.Tensor`` or ``numpy.ndarray``.
        alpha: smoothing strength in ``[0, 1]``; 1 leaves the labels unchanged.

    Returns:
        Smoothed labels of the same type and shape (tensors keep their floating dtype; integer or
        bool inputs become float32 / float64).

    References:
        MATH.md Section 6.4 (Proposition 2) and Section 7.9.

    Examples:
        >>> smooth_labels(torch.tensor([0.0, 1.0]), 0.5)
        tensor([0.2500, 0.7500])
    """
    alpha = _check_real(alpha, name="alpha", owner="smooth_labels", low=0.0, high=1.0)
    if isinstance(targets, Tensor):
        y = _check_probabilities(targets, name="targets", owner="smooth_labels", like=targets)
    elif isinstance(targets, np.ndarray):
        y = targets.astype(np.float64) if not np.issubdtype(targets.dtype, np.floating) else targets
        if y.size and (not np.isfinite(y).all() or y.min() < 0 or y.max() > 1):
            raise ValueError(
                "`targets` of smooth_labels must be finite probabilities in [0, 1]. "
                f"Got values in [{np.nanmin(y):g}, {np.nanmax(y):g}] instead."
            )
    else:
        raise TypeError(
            f"`targets` of smooth_labels must be a torch.Tensor or numpy.ndarray. Got {type(targets).__name__} instead."
        )
    return alpha * y + (1.0 - alpha) / 2.0


# --------------------------------------------------------------------------------------------
# Objective protocol and registry
# --------------------------------------------------------------------------------------------


@runtime_checkable
class Objective(Protocol):
    """A training objective as the trainer sees it (see ``docs/internals.md``).

    Attributes:
        name: registry name (``"ce"``, ``"aux"``, ...).
        params: the resolved constructor parameters, JSON-serialisable, for configs.
        needs_batch_statistics: whether :meth:`batch_statistics` must be computed over the whole
            optimiser batch before the micro-batch losses (True for AUX).
    """

    name: str
    params: dict[str, Any]
    needs_batch_statistics: bool

    def fit(self, teacher_probs: np.ndarray) -> None:
        """Fit data-dependent constants on the whole W2S training set before training."""

    def batch_statistics(self, logits: Tensor, targets: Tensor) -> dict[str, Tensor]:
        """Statistics over the whole optimiser batch (logits computed without grad)."""

    def __call__(
        self,
        logits: Tensor,
        targets: Tensor,
        *,
        progress: float = 0.0,
        statistics: dict[str, Tensor] | None = None,
    ) -> Tensor:
        """Per-example loss of shape ``[B]``."""


_REGISTRY: dict[str, Callable[..., Objective]] = {}


def register_objective(name: str) -> Callable[[type], type]:
    """Class decorator adding an objective factory to the registry under ``name``.

    Raises:
        ValueError: if ``name`` is already registered.
    """

    def decorator(factory: type) -> type:
        if name in _REGISTRY:
            raise ValueError(f"Objective '{name}' is already registered by {_REGISTRY[name]!r}.")
        _REGISTRY[name] = factory
        return factory

    return decorator


def available_objectives() -> list[str]:
    """Names accepted by :func:`make_objective`, sorted."""
    return sorted(_REGISTRY)


def _did_you_mean(name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=3, cutoff=0.5)
    return f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""


def make_objective(name: str, **params: Any) -> Objective:
    """Build a registered objective by name.

    Args:
        name: one of ``ce, rce, kl, rkl, aux, cace, sl`` (case-insensitive).
        **params: keyword parameters of that objective (e.g. ``alpha_max``, ``warmup_frac`` for
            ``aux``; ``quantile`` or ``threshold`` for ``cace``; ``alpha``, ``beta`` for ``sl``).

    Returns:
        An :class:`Objective`.

    Raises:
        TypeError: if ``name`` is not a string.
        ValueError: for an unknown name (with close matches and the available names), an unknown
            parameter (with the allowed ones) or a parameter out of range.

    Examples:
        >>> make_objective("aux", alpha_max=0.75).params
        {'alpha_max': 0.75, 'warmup_frac': 0.2}
    """
    if not isinstance(name, str):
        raise TypeError(f"`name` of make_objective must be a string. Got {type(name).__name__} instead.")
    key = name.strip().lower()
    if key not in _REGISTRY:
        choices = available_objectives()
        raise ValueError(
            f"Unknown objective '{name}'.{_did_you_mean(key, choices)} Available: {', '.join(choices)}."
        )
    factory = _REGISTRY[key]
    allowed = [p for p in inspect.signature(factory).parameters]
    unknown = [p for p in params if p not in allowed]
    if unknown:
        hints = "".join(_did_you_mean(p, allowed) for p in unknown)
        raise ValueError(
            f"Unknown parameter(s) {', '.join(repr(p) for p in unknown)} for objective '{key}'.{hints} "
            f"Allowed: {', '.join(allowed) if allowed else '(none)'}."
        )
    return factory(**params)


class _BaseObjective:
    """Shared plumbing: no fitting, no batch statistics, validated ``progress``."""

    name: str = ""
    needs_batch_statistics: bool = False

    def __init__(self) -> None:
        self.params: dict[str, Any] = {}

    def fit(self, teacher_probs: np.ndarray) -> None:
        """No-op for objectives without data-dependent constants."""
        _check_teacher_probs(teacher_probs, owner=f"{type(self).__name__}.fit")

    def batch_statistics(self, logits: Tensor, targets: Tensor) -> dict[str, Tensor]:
        """No statistics: returns an empty dict."""
        return {}

    def _loss(self, z: Tensor, y: Tensor, progress: float, statistics: dict[str, Tensor] | None) -> Tensor:
        raise NotImplementedError

    def __call__(
        self,
        logits: Tensor,
        targets: Tensor,
        *,
        progress: float = 0.0,
        statistics: dict[str, Tensor] | None = None,
    ) -> Tensor:
        """Per-example loss of shape ``[B]`` (see the class docstring for the formula)."""
        owner = type(self).__name__
        progress = _check_real(progress, name="progress", owner=owner, low=0.0, high=1.0)
        if statistics is not None and not isinstance(statistics, dict):
            raise TypeError(
                f"`statistics` of {owner} must be a dict or None. Got {type(statistics).__name__} instead."
            )
        z, y = _prepare(logits, targets, owner=owner)
        return self._loss(z, y, progress, statistics)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({args})"


def _check_teacher_probs(teacher_probs: Any, *, owner: str) -> np.ndarray:
    probs = np.asarray(teacher_probs, dtype=np.float64)
    if probs.ndim != 1 or probs.size == 0:
        raise ValueError(
            f"`teacher_probs` of {owner} must be a non-empty 1-D array. Got shape {probs.shape} instead."
        )
    bad = ~np.isfinite(probs) | (probs < 0) | (probs > 1)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"`teacher_probs` of {owner} must be probabilities in [0, 1]. Got {float(probs[row])!r} at row {row} instead."
        )
    return probs


@register_objective("ce")
class CrossEntropyObjective(_BaseObjective):
    r"""CE: :math:`-[y\log s + (1-y)\log(1-s)]` (see :func:`cross_entropy`)."""

    name = "ce"

    def __init__(self) -> None:
        super().__init__()

    def _loss(self, z, y, progress, statistics):
        return _ce(z, y)


@register_objective("kl")
class KLObjective(_BaseObjective):
    r"""KL: :math:`\mathrm{KL}(y\Vert s)`, the full per-sample KL (see :func:`kl_divergence`)."""

    name = "kl"

    def __init__(self) -> None:
        super().__init__()

    def _loss(self, z, y, progress, statistics):
        return _kl(z, y)


class _ClampedLogObjective(_BaseObjective):
    r"""An objective whose only parameter is ``log_zero``, the floor for :math:`\log y` (RCE, RKL)."""

    def __init__(self, *, log_zero: float = DEFAULT_LOG_ZERO) -> None:
        super().__init__()
        self.log_zero = _check_log_zero(log_zero, owner=f"objective '{self.name}'")
        self.params = {"log_zero": self.log_zero}


@register_objective("rce")
class ReverseCrossEntropyObjective(_ClampedLogObjective):
    r"""RCE: :math:`-[s\,\overline{\log}\,y + (1-s)\,\overline{\log}(1-y)]` (see :func:`reverse_cross_entropy`).

    Args:
        log_zero: floor for :math:`\log y`, a float ``<= 0`` (default -100).
    """

    name = "rce"

    def _loss(self, z, y, progress, statistics):
        return _rce(z, y, self.log_zero)


@register_objective("rkl")
class ReverseKLObjective(_ClampedLogObjective):
    r"""RKL: :math:`\mathrm{KL}(s\Vert y)` with clamped :math:`\log y` (see :func:`reverse_kl_divergence`).

    Args:
        log_zero: floor for :math:`\log y`, a float ``<= 0`` (default -100).
    """

    name = "rkl"

    def _loss(self, z, y, progress, statistics):
        return _rkl(z, y, self.log_zero)


@register_objective("aux")
class AuxObjective(_BaseObjective):
    r"""AUX (Burns et al. 2023): CE against :math:`(1-\alpha(\pi))\,y + \alpha(\pi)\,\hat s`.

    :math:`\hat s = \mathbb 1[z > t_z]` with :math:`t_z` the :math:`(1-\bar y)`-quantile of the
    logits over the whole optimiser batch (:func:`aux_threshold`), and
    :math:`\alpha(\pi) = \alpha_{\max}\min(1, \pi/\pi_w)` (:func:`aux_alpha`). MATH.md Section 7.1.

    The trainer calls :meth:`batch_statistics` on the concatenation of every micro-batch's logits
    (computed without grad) and passes the result to each micro-batch call; without statistics
    the threshold is computed from the batch given.

    Args:
        alpha_max: final weight of the hardened label, in ``[0, 1]`` (default 0.5).
        warmup_frac: fraction of training over which the weight ramps linearly, in ``[0, 1]``
            (default 0.2; the paper tried 0.2, 0.5 and 1.0).
    """

    name = "aux"
    needs_batch_statistics = True

    def __init__(self, *, alpha_max: float = 0.5, warmup_frac: float = 0.2) -> None:
        super().__init__()
        owner = "objective 'aux'"
        self.alpha_max = _check_real(alpha_max, name="alpha_max", owner=owner, low=0.0, high=1.0)
        self.warmup_frac = _check_real(warmup_frac, name="warmup_frac", owner=owner, low=0.0, high=1.0)
        self.params = {"alpha_max": self.alpha_max, "warmup_frac": self.warmup_frac}

    def alpha(self, progress: float) -> float:
        """The weight :math:`\\alpha` at a fraction ``progress`` of training (see :func:`aux_alpha`)."""
        return aux_alpha(progress, alpha_max=self.alpha_max, warmup_frac=self.warmup_frac)

    def batch_statistics(self, logits: Tensor, targets: Tensor) -> dict[str, Tensor]:
        """``{"logit_threshold": t_z}`` over the whole optimiser batch (see :func:`aux_threshold`)."""
        return {"logit_threshold": aux_threshold(logits, targets)}

    def _loss(self, z, y, progress, statistics):
        if statistics is None or "logit_threshold" not in statistics:
            if statistics:
                raise ValueError(
                    "`statistics` of AuxObjective must hold 'logit_threshold' from batch_statistics(). "
                    f"Got keys {sorted(statistics)} instead."
                )
            if z.numel() == 0:
                return z.new_zeros(0)
            threshold = _aux_threshold(z, y)
        else:
            threshold = torch.as_tensor(statistics["logit_threshold"], dtype=z.dtype, device=z.device).reshape(())
        return _aux(z, y, self.alpha(progress), threshold)


@register_objective("cace")
class ConfidenceAdaptiveObjective(_BaseObjective):
    r"""CACE: RCE where :math:`|y-\frac12| < c`, CE elsewhere (MATH.md Eq. (38)).

    The threshold :math:`c` is fixed before training: either given (``threshold``, the code's
    ``CACE_c``) or the ``quantile`` :math:`\tau` of the teacher confidences :math:`|y_j-\frac12|`
    over the whole W2S training set, set by :meth:`fit` (the code's ``Quan_CACE_k`` with
    :math:`\tau = k/10`), so that a fraction of about :math:`\tau` is trained with RCE.

    Args:
        quantile: :math:`\tau \in [0, 1]` (default 0.5); exclusive with ``threshold``.
        threshold: fixed :math:`c \in [0, 0.5]`; when given, ``quantile`` must be left unset.
        log_zero: floor for :math:`\log y` inside RCE.
    """

    name = "cace"

    def __init__(
        self,
        *,
        quantile: float | None = None,
        threshold: float | None = None,
        log_zero: float = DEFAULT_LOG_ZERO,
    ) -> None:
        super().__init__()
        owner = "objective 'cace'"
        if quantile is not None and threshold is not None:
            raise ValueError(
                f"`quantile` and `threshold` of {owner} are exclusive: give one. "
                f"Got quantile={quantile!r} and threshold={threshold!r} instead."
            )
        self.log_zero = _check_log_zero(log_zero, owner=owner)
        if threshold is not None:
            self.quantile: float | None = None
            self.threshold: float | None = _check_real(threshold, name="threshold", owner=owner, low=0.0, high=0.5)
        else:
            self.quantile = _check_real(
                0.5 if quantile is None else quantile, name="quantile", owner=owner, low=0.0, high=1.0
            )
            self.threshold = None
        self.params = {"quantile": self.quantile, "threshold": self.threshold, "log_zero": self.log_zero}

    def fit(self, teacher_probs: np.ndarray) -> None:
        r"""Set :math:`c = \mathrm{quantile}_\tau\{|y_j - \frac12|\}` (``np.quantile``, linear).

        A no-op (after validation) for the fixed-threshold variant.
        """
        probs = _check_teacher_probs(teacher_probs, owner="ConfidenceAdaptiveObjective.fit")
        if self.quantile is not None:
            self.threshold = float(np.quantile(np.abs(probs - 0.5), self.quantile))

    def _loss(self, z, y, progress, statistics):
        if self.threshold is None:
            raise RuntimeError(
                "ConfidenceAdaptiveObjective with a quantile must be fitted first: call "
                "fit(teacher_probs) on the whole W2S training set before computing the loss."
            )
        return _cace(z, y, self.threshold, self.log_zero)


@register_objective("sl")
class SymmetricCrossEntropyObjective(_BaseObjective):
    r"""SL: :math:`\alpha\,\mathrm{CE} + \beta\,\mathrm{RCE}` (MATH.md Eq. (39); :math:`\alpha` weights CE).

    Args:
        alpha: weight of CE, ``>= 0`` (default 1).
        beta: weight of RCE, ``>= 0`` (default 0.1).
        log_zero: floor for :math:`\log y` inside RCE.
    """

    name = "sl"

    def __init__(self, *, alpha: float = 1.0, beta: float = 0.1, log_zero: float = DEFAULT_LOG_ZERO) -> None:
        super().__init__()
        owner = "objective 'sl'"
        self.alpha = _check_real(alpha, name="alpha", owner=owner, low=0.0)
        self.beta = _check_real(beta, name="beta", owner=owner, low=0.0)
        self.log_zero = _check_log_zero(log_zero, owner=owner)
        self.params = {"alpha": self.alpha, "beta": self.beta, "log_zero": self.log_zero}

    def _loss(self, z, y, progress, statistics):
        return self.alpha * _ce(z, y) + self.beta * _rce(z, y, self.log_zero)
