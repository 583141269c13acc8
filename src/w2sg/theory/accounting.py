r"""The paper's weak-to-strong accounting, computed exactly on a finite sample of models.

The joint law of (teacher, student) is a finite, weighted set of realisations ("pairs"): pair
:math:`p` has teacher predictions ``teacher[p]``, student predictions ``student[p]`` and
probability ``weights[p]``. The test input :math:`X` is uniform over the ``n_inputs`` columns.
Pairs that share a ``groups`` id share the same student, and the posterior of the teacher given
that student, :math:`P_{F_w|F_s}`, is the weighted empirical law of the teachers in the group
(``groups=None``: every pair is its own group, a Dirac posterior). With ``independent=True`` the
law is replaced by the product of its marginals :math:`P_{F_w}\otimes P_{F_s}` (Theorem B.1), and
the posterior becomes the teacher marginal.

Every expectation below is exact for that finite law. The identities of MATH.md 4.2 (Eq. 16 and
its reverse) therefore hold to rounding, and the bounds of Theorem 3.1 (Eqs. 4-5) and Theorem B.1
(Eqs. 19-20) are evaluated, not estimated.

Infinite values. The ground truth may lie on the boundary of a closed domain (one-hot or hard
labels with ``KL``, ``BinaryKL``, ``GeneralizedKL``); teacher and student must be interior points
(softmax or sigmoid outputs are). Then every reverse risk :math:`\mathbb E\,D(F, f^*)` is
:math:`+\infty`, and so are :math:`\epsilon_2` (unless its second factor is zero to rounding) and
the reverse bound. The reverse gain and the reverse remainder are differences of infinities; they
are reported as their limit when the truth is smoothed towards uniform,
:math:`f^*_\varepsilon = (1-\varepsilon) f^* + \varepsilon u`, :math:`\varepsilon \to 0`: a finite
number when the infinite parts cancel, otherwise :math:`\pm\infty`. Nothing is ever NaN.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from w2sg.bregman import KL, BregmanGenerator, normalize_weights

__all__ = [
    "ACCOUNTING_TERMS",
    "CROSS_ENTROPY_TERMS",
    "Accounting",
    "CrossEntropyAccounting",
    "account",
    "cross_entropy_accounting",
    "load_predictions",
]

FloatArray = NDArray[np.float64]
_ROUNDING = 64.0 * np.finfo(np.float64).eps

#: Term name -> (description, equation in MATH.md). Used by reports and the CLI table.
ACCOUNTING_TERMS: dict[str, tuple[str, str]] = {
    "teacher_risk": ("R(Fw) = E D(f*, Fw)", "Sec. 3"),
    "student_risk": ("R(Fs) = E D(f*, Fs)", "Sec. 3"),
    "teacher_reverse_risk": ("R^r(Fw) = E D(Fw, f*)", "Sec. 3"),
    "student_reverse_risk": ("R^r(Fs) = E D(Fs, f*)", "Sec. 3"),
    "reverse_misfit": ("E D(Fs, Fw)", "Eq. (4) / (19)"),
    "forward_misfit": ("E D(Fw, Fs)", "Eq. (5) / (20)"),
    "dual_posterior_bias": ("E D(f*, F*w_bar)", "Eq. (12)"),
    "dual_posterior_variance": ("E D(F*w_bar, Fw)", "Eq. (12)-(13)"),
    "student_to_dual_posterior": ("E D(Fs, F*w_bar)", "Eq. (13)"),
    "primal_posterior_bias": ("E D(Fw_bar, f*)", "Eq. (2), reverse proof"),
    "primal_posterior_variance": ("E D(Fw, Fw_bar)", "Eq. (2), reverse proof"),
    "primal_posterior_to_student": ("E D(Fw_bar, Fs)", "Eq. (2), reverse proof"),
    "student_truth_sq": ("E ||f* - Fs||^2", "eps1 factor"),
    "dual_posterior_gap_sq": ("E ||grad F*w_bar - grad Fs||^2", "eps1 factor"),
    "truth_dual_gap_sq": ("E ||grad f* - grad Fs||^2", "eps2 factor"),
    "primal_posterior_gap_sq": ("E ||Fw_bar - Fs||^2", "eps2 factor, Eq. (8)"),
    "epsilon_1": ("Cauchy-Schwarz remainder (eps3 if independent)", "Thm 3.1 / B.1"),
    "epsilon_2": ("Cauchy-Schwarz remainder (eps4 if independent)", "Thm 3.1 / B.1"),
    "forward_remainder": ("E <f* - Fs, grad F*w_bar - grad Fs>", "Eq. (16)"),
    "reverse_remainder": ("E <Fw_bar - Fs, grad f* - grad Fs>", "Eq. (16) reverse"),
    "forward_bound": ("R(Fw) - E D(Fs, Fw) + eps1", "Eq. (4) / (19)"),
    "reverse_bound": ("R^r(Fw) - E D(Fw, Fs) + eps2", "Eq. (5) / (20)"),
    "gain": ("R(Fw) - R(Fs)", "Eq. (6)"),
    "reverse_gain": ("R^r(Fw) - R^r(Fs)", "Eq. (7)"),
}

#: Term name -> (description, equation in MATH.md) for the cross-entropy specialisation.
CROSS_ENTROPY_TERMS: dict[str, tuple[str, str]] = {
    "ce_truth_student": ("E CE(f*, Fs)", "Cor. 5.1"),
    "ce_truth_teacher": ("E CE(f*, Fw)", "Cor. 5.1"),
    "rce_teacher_student": ("E RCE(Fw, Fs) = E CE(Fs, Fw)", "Cor. 5.1"),
    "ce_teacher_student": ("E CE(Fw, Fs)", "Cor. 5.1"),
    "entropy_student": ("E H(Fs)", "Cor. 5.1"),
    "entropy_teacher": ("E H(Fw)", "Prop. 1"),
    "entropy_truth": ("E H(f*)", "Sec. 6.1"),
    "rce_truth_student": ("E RCE(f*, Fs)", "Cor. 5.1"),
    "rce_truth_teacher": ("E RCE(f*, Fw)", "Cor. 5.1"),
    "epsilon_1": ("Cauchy-Schwarz remainder", "Thm 3.1"),
    "epsilon_2": ("Cauchy-Schwarz remainder", "Thm 3.1"),
    "forward_remainder": ("exact remainder of the CE bound", "Eq. (16)"),
    "reverse_remainder": ("exact remainder of the RCE bound", "Eq. (16) reverse"),
    "forward_bound": ("E CE(f*,Fw) - E RCE(Fw,Fs) + E H(Fs) + eps1", "Cor. 5.1"),
    "reverse_bound": ("E RCE(f*,Fw) - E CE(Fw,Fs) + E H(Fs) + eps2", "Cor. 5.1"),
    "ce_gain": ("E CE(f*,Fw) - E CE(f*,Fs)", "Prop. 1"),
    "rce_gain": ("E RCE(f*,Fw) - E RCE(f*,Fs)", "Prop. 1"),
    "ideal_forward_gain": ("E RCE(Fw,Fs) - E H(Fs) = E KL(Fs||Fw)", "Prop. 1 (eps1 = 0)"),
    "ideal_reverse_gain": ("E CE(Fw,Fs) - E H(Fs)", "Prop. 1 (eps2 = 0)"),
    "entropy_gap": ("E H(Fs) - E H(Fw)", "Prop. 1"),
}


@dataclass(frozen=True)
class Accounting:
    r"""All terms of Theorem 3.1 (or Theorem B.1 when ``independent``) on a finite joint law.

    Notation: :math:`\bar F_w = \mathbb E_{F_w|F_s}[F_w]` (primal posterior-mean teacher),
    :math:`\bar F^*_w = \mathbb E^*_{F_w|F_s}[F_w]` (dual posterior-mean teacher); with
    ``independent=True`` both are the teacher's marginal (dual) mean. :math:`\nabla` is the
    generator's dual map. Expectations are over the joint law and the uniform test input.

    Exact identities (MATH.md 4.2, Eq. 16 and its reverse), to rounding:

    .. math::

        \mathcal R(F_s) = \mathcal R(F_w) - \mathbb E\,D(F_s, F_w) + \text{forward\_remainder},

        \mathcal R^r(F_s) = \mathcal R^r(F_w) - \mathbb E\,D(F_w, F_s) + \text{reverse\_remainder},

    and the bounds (Eqs. 4-5, or 19-20) ``student_risk <= forward_bound``,
    ``student_reverse_risk <= reverse_bound`` follow from Cauchy--Schwarz,
    :math:`\text{remainder} \le \epsilon`. With ``independent=True``, ``epsilon_1`` and
    ``epsilon_2`` hold :math:`\epsilon_3, \epsilon_4`.

    Attributes:
        generator: the generator's class name.
        independent: whether the product law of Theorem B.1 was used.
        n_pairs, n_inputs, n_groups: sizes of the law.
        teacher_risk, student_risk: :math:`\mathcal R(F) = \mathbb E\,D(f^*(X), F(X))`.
        teacher_reverse_risk, student_reverse_risk: :math:`\mathbb E\,D(F(X), f^*(X))`.
        reverse_misfit: :math:`\mathbb E\,D(F_s, F_w)`; forward_misfit: :math:`\mathbb E\,D(F_w, F_s)`.
        dual_posterior_bias: :math:`\mathbb E\,D(f^*, \bar F^*_w)` (Eq. 12).
        dual_posterior_variance: :math:`\mathbb E\,D(\bar F^*_w, F_w)`, the conditional dual variance.
        student_to_dual_posterior: :math:`\mathbb E\,D(F_s, \bar F^*_w)` (Eq. 13).
        primal_posterior_bias: :math:`\mathbb E\,D(\bar F_w, f^*)`.
        primal_posterior_variance: :math:`\mathbb E\,D(F_w, \bar F_w)`.
        primal_posterior_to_student: :math:`\mathbb E\,D(\bar F_w, F_s)`.
        student_truth_sq, dual_posterior_gap_sq, truth_dual_gap_sq, primal_posterior_gap_sq: the
            squared factors of :math:`\epsilon_1` and :math:`\epsilon_2`.
        epsilon_1: :math:`\sqrt{\mathbb E\lVert f^*-F_s\rVert^2}\sqrt{\mathbb E\lVert\nabla\bar F^*_w-\nabla F_s\rVert^2}`.
        epsilon_2: :math:`\sqrt{\mathbb E\lVert\nabla f^*-\nabla F_s\rVert^2}\sqrt{\mathbb E\lVert\bar F_w-F_s\rVert^2}`.
        forward_remainder: :math:`\mathbb E\langle f^*-F_s, \nabla\bar F^*_w-\nabla F_s\rangle`.
        reverse_remainder: :math:`\mathbb E\langle \bar F_w-F_s, \nabla f^*-\nabla F_s\rangle`.
        forward_bound, reverse_bound: right-hand sides of Eqs. (4)-(5) / (19)-(20).
        gain: :math:`\mathcal R(F_w) - \mathcal R(F_s)`; reverse_gain: the reverse analogue.
        w2sg_occurred: ``student_risk < teacher_risk``.
    """

    generator: str
    independent: bool
    n_pairs: int
    n_inputs: int
    n_groups: int
    teacher_risk: float
    student_risk: float
    teacher_reverse_risk: float
    student_reverse_risk: float
    reverse_misfit: float
    forward_misfit: float
    dual_posterior_bias: float
    dual_posterior_variance: float
    student_to_dual_posterior: float
    primal_posterior_bias: float
    primal_posterior_variance: float
    primal_posterior_to_student: float
    student_truth_sq: float
    dual_posterior_gap_sq: float
    truth_dual_gap_sq: float
    primal_posterior_gap_sq: float
    epsilon_1: float
    epsilon_2: float
    forward_remainder: float
    reverse_remainder: float
    forward_bound: float
    reverse_bound: float
    gain: float
    reverse_gain: float
    w2sg_occurred: bool

    def to_dict(self) -> dict[str, Any]:
        """Plain ``dict`` of Python scalars (``json.dumps`` writes ``inf`` as ``Infinity``)."""
        return asdict(self)


@dataclass(frozen=True)
class CrossEntropyAccounting:
    r"""Corollary 5.1 and Proposition 1: the accounting with KL written in CE/RCE/entropy terms.

    :math:`\mathrm{CE}(p, q) = -\sum_j p_j \log q_j` (target first), :math:`\mathrm{RCE}(p, q) =
    \mathrm{CE}(q, p)`, :math:`H(p) = -\sum_j p_j\log p_j` (MATH.md 6.1). Exact identities:

    .. math::

        \mathbb E\,\mathrm{CE}(f^*, F_s) = \mathbb E\,\mathrm{CE}(f^*, F_w)
            - \mathbb E\,\mathrm{RCE}(F_w, F_s) + \mathbb E\,H(F_s) + \text{forward\_remainder},

        \mathbb E\,\mathrm{RCE}(f^*, F_s) = \mathbb E\,\mathrm{RCE}(f^*, F_w)
            - \mathbb E\,\mathrm{CE}(F_w, F_s) + \mathbb E\,H(F_s) + \text{reverse\_remainder}.

    Attributes:
        See :data:`CROSS_ENTROPY_TERMS`; ``accounting`` holds the Bregman (KL) accounting.
        ``rce_truth_*`` are ``+inf`` for one-hot truth; ``rce_gain`` is then the smoothed-truth
        limit (see the module docstring).
    """

    independent: bool
    ce_truth_student: float
    ce_truth_teacher: float
    rce_teacher_student: float
    ce_teacher_student: float
    entropy_student: float
    entropy_teacher: float
    entropy_truth: float
    rce_truth_student: float
    rce_truth_teacher: float
    epsilon_1: float
    epsilon_2: float
    forward_remainder: float
    reverse_remainder: float
    forward_bound: float
    reverse_bound: float
    ce_gain: float
    rce_gain: float
    ideal_forward_gain: float
    ideal_reverse_gain: float
    entropy_gap: float
    w2sg_occurred: bool
    accounting: Accounting

    def to_dict(self) -> dict[str, Any]:
        """Plain ``dict`` of Python scalars, with the KL accounting nested under ``accounting``."""
        return asdict(self)


# ---------------------------------------------------------------------------------------------
# Input checks
# ---------------------------------------------------------------------------------------------


def _check_predictions(
    gen: BregmanGenerator, teacher: ArrayLike, student: ArrayLike, truth: ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    tw = gen.check(teacher, "teacher", interior=True)
    ts = gen.check(student, "student", interior=True)
    tt = gen.check(truth, "truth")
    want = 2 + gen.event_ndim
    layout = "[n_pairs, n_inputs]" if gen.event_ndim == 0 else "[n_pairs, n_inputs, k]"
    if tw.ndim != want:
        raise ValueError(
            f"`teacher` of account must have shape {layout} for {gen.name}. Got shape {tw.shape} instead."
        )
    if ts.shape != tw.shape:
        raise ValueError(
            f"`student` of account must have the teacher's shape {tw.shape}. Got {ts.shape} instead."
        )
    if tt.shape != tw.shape[1:]:
        raise ValueError(
            f"`truth` of account must have shape teacher.shape[1:] = {tw.shape[1:]}. Got {tt.shape} instead."
        )
    return tw, ts, tt


def _group_index(groups: ArrayLike | None, student: FloatArray) -> tuple[NDArray[np.intp], int, NDArray[Any]]:
    """Return (group index per pair, number of groups, group labels); check shared students."""
    n = student.shape[0]
    if groups is None:
        return np.arange(n), n, np.arange(n)
    g = np.asarray(groups)
    if g.shape != (n,):
        raise ValueError(f"`groups` of account must have shape ({n},) (one id per pair). Got {g.shape} instead.")
    if g.dtype.kind == "f" and np.isnan(g).any():
        raise ValueError(f"`groups` of account must not contain NaN. Got NaN at index {int(np.argmax(np.isnan(g)))}.")
    if g.dtype.kind not in "biufUS":
        raise TypeError(f"`groups` of account must hold integer or string ids. Got dtype {g.dtype} instead.")
    labels, inv = np.unique(g, return_inverse=True)
    inv = inv.reshape(-1)
    first = np.full(len(labels), n, dtype=np.intp)
    np.minimum.at(first, inv, np.arange(n))
    ref = student[first[inv]]
    same = np.isclose(student, ref, rtol=1e-9, atol=1e-12).reshape(n, -1).all(axis=1)
    if not same.all():
        p = int(np.argmin(same))
        raise ValueError(
            f"`groups` of account: pairs in one group must share the same student predictions. Group "
            f"{labels[inv[p]].item()!r} has pair {p} differing from pair {int(first[inv[p]])}."
        )
    return inv, len(labels), labels


# ---------------------------------------------------------------------------------------------
# The accounting
# ---------------------------------------------------------------------------------------------


def _group_means(values: FloatArray, w: FloatArray, inv: NDArray[np.intp], n_groups: int) -> FloatArray:
    """Weighted mean of ``values`` [P, ...] within each group -> [G, ...].

    A group of total weight 0 gets its unweighted mean (it carries no probability, so any finite
    value leaves every expectation unchanged).
    """
    total = np.bincount(inv, weights=w, minlength=n_groups)
    count = np.bincount(inv, minlength=n_groups).astype(np.float64)
    wn = np.where(total[inv] > 0, w / np.where(total[inv] > 0, total[inv], 1.0), 1.0 / count[inv])
    order = np.argsort(inv, kind="stable")
    starts = np.searchsorted(inv[order], np.arange(n_groups))
    scaled = values[order] * wn[order].reshape((-1,) + (1,) * (values.ndim - 1))
    return np.add.reduceat(scaled, starts, axis=0)


def _expectation(w: FloatArray, n_pairs: int, n_inputs: int) -> Callable[[FloatArray], float]:
    """E over the law (pair probabilities ``w``) and the uniform input, as a function of ``v``.

    ``v`` has shape [P, N] (or broadcasts to it).
    """

    def expect(v: FloatArray) -> float:
        return float(w @ np.broadcast_to(v, (n_pairs, n_inputs)).mean(axis=1))

    return expect


def _limit_inner(
    gen: BregmanGenerator,
    expect: Callable[[FloatArray], float],
    d: FloatArray,
    g_truth: FloatArray,
    g_other: FloatArray,
    scale_terms: tuple[FloatArray, FloatArray],
) -> float:
    r""":math:`\mathbb E\langle d, g^* - g\rangle` where ``g_truth`` may hold :math:`\pm\infty`.

    Infinite dual coordinates of the truth all diverge at the same rate :math:`|\log\varepsilon|`
    under :math:`f^*_\varepsilon = (1-\varepsilon) f^* + \varepsilon u`; the limit is therefore
    :math:`\mathrm{sign}(c)\cdot\infty` with :math:`c = \mathbb E\langle d, \mathrm{sign}(g^*)
    1_{\infty}\rangle`, or the finite part when :math:`c = 0` to rounding.
    """
    inf_mask = np.isinf(g_truth)
    if not inf_mask.any():
        return expect(gen._inner(d, g_truth - g_other))
    finite = expect(gen._inner(d, np.where(inf_mask, 0.0, g_truth) - g_other))
    sign = np.where(inf_mask, np.sign(g_truth), 0.0)
    coef = expect(gen._inner(d, sign))
    a, b = scale_terms
    scale = expect(gen._inner(np.abs(a) + np.abs(b), inf_mask.astype(np.float64)))
    if abs(coef) <= _ROUNDING * max(scale, 1e-300):
        return finite
    return float(np.inf) if coef > 0 else float(-np.inf)


def account(
    generator: BregmanGenerator,
    teacher: ArrayLike,
    student: ArrayLike,
    truth: ArrayLike,
    *,
    weights: ArrayLike | None = None,
    groups: ArrayLike | None = None,
    independent: bool = False,
) -> Accounting:
    r"""Theorem 3.1 (or Theorem B.1) evaluated exactly on a finite joint law of teacher and student.

    Let ``teacher`` and ``student`` be arrays of shape ``[n_pairs, n_inputs, k]`` (``[n_pairs,
    n_inputs]`` for scalar generators such as :class:`~w2sg.bregman.BinaryKL`), ``truth`` of shape
    ``[n_inputs, k]``, and ``weights`` :math:`w_p` the probability of pair :math:`p`. Then

    .. math::

        \mathcal R(F) = \sum_p w_p \frac{1}{n}\sum_{x} D(f^*(x), F_p(x)),\qquad
        \bar F^*_w = \nabla\phi^*\Big(\sum_{p' \in g(p)} \tfrac{w_{p'}}{W_{g(p)}}
            \nabla\phi(F_{w,p'})\Big),

    and the theorem reads (Eqs. 4-5, exact forms Eq. 16)

    .. math::

        \mathcal R(F_s) = \mathcal R(F_w) - \mathbb E\,D(F_s, F_w)
            + \mathbb E\langle f^* - F_s, \nabla\bar F^*_w - \nabla F_s\rangle
            \le \mathcal R(F_w) - \mathbb E\,D(F_s, F_w) + \epsilon_1,

        \mathcal R^r(F_s) = \mathcal R^r(F_w) - \mathbb E\,D(F_w, F_s)
            + \mathbb E\langle \bar F_w - F_s, \nabla f^* - \nabla F_s\rangle
            \le \mathcal R^r(F_w) - \mathbb E\,D(F_w, F_s) + \epsilon_2 .

    With ``independent=True`` (Theorem B.1, Eqs. 19-20) every teacher is paired with every student
    with weight :math:`w_p w_q`; the misfits are then computed exactly through Eqs. (2)-(3),
    :math:`\mathbb E_{\otimes} D(F_s, F_w) = \mathbb E\,D(F_s, \mathbb E^* F_w) + \mathbb E\,D(\mathbb
    E^* F_w, F_w)`, in :math:`O(n_\text{pairs})` memory, and ``epsilon_1/2`` hold
    :math:`\epsilon_3, \epsilon_4`.

    Args:
        generator: a :class:`~w2sg.bregman.BregmanGenerator` instance.
        teacher: teacher predictions, interior points of the domain.
        student: student predictions, same shape as ``teacher``, interior points.
        truth: ground truth :math:`f^*` on the inputs; may lie on the boundary of a closed domain
            (one-hot / hard labels), see the module docstring for the resulting infinities.
        weights: optional ``[n_pairs]`` non-negative probabilities of the pairs (normalised).
        groups: optional ``[n_pairs]`` integer or string ids; pairs with one id share one student
            (checked to 1e-9 relative) and define the teacher's posterior given that student.
            ``None``: each pair is its own group (Dirac posterior).
        independent: use the product law of the marginals (Theorem B.1).

    Returns:
        :class:`Accounting` of Python floats.

    Raises:
        TypeError: ``generator`` is not a generator, or non-numeric arrays / ids.
        ValueError: shapes, domains, weights or groups are invalid.

    References:
        MATH.md 4.2 (Theorem 3.1, Eq. 16), 4.3 (Corollary 3.1, Eqs. 6-7), 4.4 (Theorem B.1).

    Examples:
        >>> from w2sg.bregman import SquaredEuclidean
        >>> acc = account(SquaredEuclidean(), [[[1.0]], [[3.0]]], [[[2.0]], [[2.0]]], [[0.0]],
        ...               groups=[0, 0])
        >>> acc.teacher_risk, acc.student_risk, acc.reverse_misfit, acc.epsilon_1
        (5.0, 4.0, 1.0, 0.0)
    """
    if not isinstance(generator, BregmanGenerator):
        raise TypeError(
            f"`generator` of account must be a BregmanGenerator instance such as KL(). "
            f"Got {type(generator).__name__} instead."
        )
    if not isinstance(independent, (bool, np.bool_)):
        raise TypeError(f"`independent` of account must be a bool. Got {type(independent).__name__} instead.")
    gen = generator
    fw, fs, ft = _check_predictions(gen, teacher, student, truth)
    n_pairs, n_inputs = fw.shape[:2]
    w = normalize_weights(weights, n_pairs, owner="account")
    inv, n_groups, _ = _group_index(groups, fs)

    expect = _expectation(w, n_pairs, n_inputs)

    gw = gen._grad(fw)  # [P, N(, k)]
    gs = gen._grad(fs)
    gt = gen._grad(ft)  # may hold +-inf on the boundary
    if independent:
        post_inv, n_post = np.zeros(n_pairs, dtype=np.intp), 1
    else:
        post_inv, n_post = inv, n_groups
    primal_bar = _group_means(fw, w, post_inv, n_post)[post_inv]  # [P, N(, k)]
    if gen.dual_is_primal:
        dual_bar = primal_bar
        g_dual_bar = gen._grad(dual_bar)
    else:
        mean_grad = _group_means(gw, w, post_inv, n_post)[post_inv]
        dual_bar = gen._grad_conj(mean_grad)
        g_dual_bar = gen._grad_of_grad_conj(mean_grad)
    truth_b = ft[None]

    teacher_risk = expect(gen._divergence(truth_b, fw))
    student_risk = expect(gen._divergence(truth_b, fs))
    teacher_reverse_risk = expect(gen._divergence(fw, truth_b))
    student_reverse_risk = expect(gen._divergence(fs, truth_b))

    dual_posterior_bias = expect(gen._divergence(truth_b, dual_bar))
    dual_posterior_variance = expect(gen._divergence(dual_bar, fw))
    student_to_dual_posterior = expect(gen._divergence(fs, dual_bar))
    primal_posterior_bias = expect(gen._divergence(primal_bar, truth_b))
    primal_posterior_variance = expect(gen._divergence(fw, primal_bar))
    primal_posterior_to_student = expect(gen._divergence(primal_bar, fs))

    if independent:
        # Eqs. (3) and (2) under the product law: exact, without the n_pairs^2 cross terms.
        reverse_misfit = student_to_dual_posterior + dual_posterior_variance
        forward_misfit = primal_posterior_variance + primal_posterior_to_student
    else:
        reverse_misfit = expect(gen._divergence(fs, fw))
        forward_misfit = expect(gen._divergence(fw, fs))

    student_truth_sq = expect(gen._reduce((truth_b - fs) ** 2))
    dual_posterior_gap_sq = expect(gen._reduce((g_dual_bar - gs) ** 2))
    with np.errstate(invalid="ignore"):
        truth_dual_gap_sq = expect(gen._reduce((gt[None] - gs) ** 2))  # inf at the boundary
    primal_posterior_gap_sq = expect(gen._reduce((primal_bar - fs) ** 2))

    epsilon_1 = float(np.sqrt(student_truth_sq) * np.sqrt(dual_posterior_gap_sq))
    gap2_scale = _ROUNDING * np.sqrt(expect(gen._reduce(primal_bar**2 + fs**2)))
    if np.isinf(truth_dual_gap_sq):
        # inf * 0: the second factor is exactly 0 for every smoothed truth, so the limit is 0.
        epsilon_2 = 0.0 if np.sqrt(primal_posterior_gap_sq) <= gap2_scale else float(np.inf)
    else:
        epsilon_2 = float(np.sqrt(truth_dual_gap_sq) * np.sqrt(primal_posterior_gap_sq))

    forward_remainder = expect(gen._inner(truth_b - fs, g_dual_bar - gs))
    reverse_remainder = _limit_inner(
        gen, expect, primal_bar - fs, np.broadcast_to(gt[None], fs.shape), gs, (primal_bar, fs)
    )

    gain = teacher_risk - student_risk
    if np.isinf(gt).any():
        reverse_gain = forward_misfit - reverse_remainder  # smoothed-truth limit of inf - inf
    else:
        reverse_gain = teacher_reverse_risk - student_reverse_risk

    return Accounting(
        generator=gen.name,
        independent=bool(independent),
        n_pairs=int(n_pairs),
        n_inputs=int(n_inputs),
        n_groups=int(n_groups),
        teacher_risk=teacher_risk,
        student_risk=student_risk,
        teacher_reverse_risk=teacher_reverse_risk,
        student_reverse_risk=student_reverse_risk,
        reverse_misfit=float(reverse_misfit),
        forward_misfit=float(forward_misfit),
        dual_posterior_bias=dual_posterior_bias,
        dual_posterior_variance=dual_posterior_variance,
        student_to_dual_posterior=student_to_dual_posterior,
        primal_posterior_bias=primal_posterior_bias,
        primal_posterior_variance=primal_posterior_variance,
        primal_posterior_to_student=primal_posterior_to_student,
        student_truth_sq=student_truth_sq,
        dual_posterior_gap_sq=dual_posterior_gap_sq,
        truth_dual_gap_sq=float(truth_dual_gap_sq),
        primal_posterior_gap_sq=primal_posterior_gap_sq,
        epsilon_1=epsilon_1,
        epsilon_2=epsilon_2,
        forward_remainder=forward_remainder,
        reverse_remainder=float(reverse_remainder),
        forward_bound=teacher_risk - float(reverse_misfit) + epsilon_1,
        reverse_bound=teacher_reverse_risk - float(forward_misfit) + epsilon_2,
        gain=gain,
        reverse_gain=float(reverse_gain),
        w2sg_occurred=bool(student_risk < teacher_risk),
    )


# ---------------------------------------------------------------------------------------------
# Cross-entropy specialisation (Section 5)
# ---------------------------------------------------------------------------------------------


def _as_class_probs(x: ArrayLike, name: str, vector_ndim: int) -> ArrayLike:
    """Binary probabilities of class 1 (one axis fewer) -> two-class rows [1 - p, p]."""
    arr = np.asarray(x)
    if arr.ndim == vector_ndim - 1 and arr.dtype.kind in "biuf":
        a = arr.astype(np.float64)
        return np.stack([1.0 - a, a], axis=-1)
    return x


def cross_entropy_accounting(
    teacher_probs: ArrayLike,
    student_probs: ArrayLike,
    truth_probs: ArrayLike,
    *,
    weights: ArrayLike | None = None,
    groups: ArrayLike | None = None,
    independent: bool = False,
) -> CrossEntropyAccounting:
    r"""Corollary 5.1 and Proposition 1: the KL accounting in cross-entropy terms.

    With :math:`\phi(p) = \sum_j p_j\log p_j`, :math:`\mathcal R(F) = \mathbb E\,\mathrm{CE}(f^*, F)
    - \mathbb E\,H(f^*)` and :math:`\mathcal R^r(F) = \mathbb E\,\mathrm{RCE}(f^*, F) - \mathbb E\,H(F)`
    (MATH.md 6.1), so Theorem 3.1 becomes (MATH.md 6.2)

    .. math::

        \mathbb E\,\mathrm{CE}(f^*,F_s) \le \mathbb E\,\mathrm{CE}(f^*,F_w)
            - \mathbb E\,\mathrm{RCE}(F_w,F_s) + \mathbb E\,H(F_s) + \epsilon_1,

        \mathbb E\,\mathrm{RCE}(f^*,F_s) \le \mathbb E\,\mathrm{RCE}(f^*,F_w)
            - \mathbb E\,\mathrm{CE}(F_w,F_s) + \mathbb E\,H(F_s) + \epsilon_2,

    with equality when the exact remainders replace :math:`\epsilon_i`. Proposition 1: with
    :math:`\epsilon_1 = 0` the CE gain is ``ideal_forward_gain`` :math:`= \mathbb E\,\mathrm{KL}(F_s
    \Vert F_w)`; with :math:`\epsilon_2 = 0` the RCE gain is ``ideal_reverse_gain`` :math:`=
    \mathbb E\,\mathrm{CE}(F_w,F_s) - \mathbb E\,H(F_s)`, smaller than the Eq. (7) gain by
    ``entropy_gap`` :math:`= \mathbb E\,H(F_s) - \mathbb E\,H(F_w) \ge 0`.

    Args:
        teacher_probs: ``[n_pairs, n_inputs, k]`` rows on the simplex, strictly positive; or
            ``[n_pairs, n_inputs]`` probabilities of class 1 of a binary task.
        student_probs: same shape as ``teacher_probs``, strictly positive.
        truth_probs: ``[n_inputs, k]`` (or ``[n_inputs]`` binary); one-hot allowed, which makes
            the ``rce_truth_*`` terms ``+inf`` (documented, never NaN).
        weights, groups, independent: as in :func:`account`. Under ``independent`` the
            cross terms factorise: :math:`\mathbb E_\otimes \mathrm{CE}(F_w, F_s) = -\sum_j
            \mathbb E[F_{w,j}]\,\mathbb E[\log F_{s,j}]`.

    Returns:
        :class:`CrossEntropyAccounting`.

    Raises:
        ValueError, TypeError: as :func:`account`.

    Examples:
        >>> ce = cross_entropy_accounting([[0.8], [0.6]], [[0.7], [0.7]], [1.0], groups=[0, 0])
        >>> bool(abs(ce.ce_truth_student + np.log(0.7)) < 1e-12)
        True
    """
    gen = KL()
    tp = _as_class_probs(teacher_probs, "teacher_probs", 3)
    sp = _as_class_probs(student_probs, "student_probs", 3)
    yp = _as_class_probs(truth_probs, "truth_probs", 2)
    acc = account(gen, tp, sp, yp, weights=weights, groups=groups, independent=independent)
    fw, fs, ft = _check_predictions(gen, tp, sp, yp)
    n_pairs, n_inputs = fw.shape[:2]
    w = normalize_weights(weights, n_pairs, owner="cross_entropy_accounting")

    expect = _expectation(w, n_pairs, n_inputs)

    log_w, log_s = np.log(fw), np.log(fs)
    truth_b = ft[None]
    ce_truth_student = expect(-(special.xlogy(truth_b, fs)).sum(-1))
    ce_truth_teacher = expect(-(special.xlogy(truth_b, fw)).sum(-1))
    entropy_student = expect(-(special.xlogy(fs, fs)).sum(-1))
    entropy_teacher = expect(-(special.xlogy(fw, fw)).sum(-1))
    entropy_truth = float(np.mean(-(special.xlogy(ft, ft)).sum(-1)))
    with np.errstate(divide="ignore"):
        # RCE(f*, F) = -sum F log f*: +inf where f*_j = 0 < F_j.
        rce_truth_student = expect(-(special.xlogy(fs, truth_b)).sum(-1))
        rce_truth_teacher = expect(-(special.xlogy(fw, truth_b)).sum(-1))
    if independent:
        # Product law: E_{Fw x Fs} sum_j A_j log B_j = sum_j E[A_j] E[log B_j] for each input.
        mean_w, mean_s = np.tensordot(w, fw, 1), np.tensordot(w, fs, 1)
        mean_log_w, mean_log_s = np.tensordot(w, log_w, 1), np.tensordot(w, log_s, 1)
        rce_teacher_student = float(np.mean(-(mean_s * mean_log_w).sum(-1)))
        ce_teacher_student = float(np.mean(-(mean_w * mean_log_s).sum(-1)))
    else:
        rce_teacher_student = expect(-(fs * log_w).sum(-1))
        ce_teacher_student = expect(-(fw * log_s).sum(-1))

    if np.isinf(rce_truth_teacher) or np.isinf(rce_truth_student):
        # inf - inf: smoothed-truth limit, from R^r(F) = E RCE(f*, F) - E H(F).
        rce_gain = acc.reverse_gain + entropy_teacher - entropy_student
    else:
        rce_gain = rce_truth_teacher - rce_truth_student
    return CrossEntropyAccounting(
        independent=bool(independent),
        ce_truth_student=ce_truth_student,
        ce_truth_teacher=ce_truth_teacher,
        rce_teacher_student=rce_teacher_student,
        ce_teacher_student=ce_teacher_student,
        entropy_student=entropy_student,
        entropy_teacher=entropy_teacher,
        entropy_truth=entropy_truth,
        rce_truth_student=rce_truth_student,
        rce_truth_teacher=rce_truth_teacher,
        epsilon_1=acc.epsilon_1,
        epsilon_2=acc.epsilon_2,
        forward_remainder=acc.forward_remainder,
        reverse_remainder=acc.reverse_remainder,
        forward_bound=ce_truth_teacher - rce_teacher_student + entropy_student + acc.epsilon_1,
        reverse_bound=rce_truth_teacher - ce_teacher_student + entropy_student + acc.epsilon_2,
        ce_gain=ce_truth_teacher - ce_truth_student,
        rce_gain=float(rce_gain),
        ideal_forward_gain=rce_teacher_student - entropy_student,
        ideal_reverse_gain=ce_teacher_student - entropy_student,
        entropy_gap=entropy_student - entropy_teacher,
        w2sg_occurred=bool(ce_truth_student < ce_truth_teacher),
        accounting=acc,
    )


# ---------------------------------------------------------------------------------------------
# Loading predictions
# ---------------------------------------------------------------------------------------------

_REQUIRED_KEYS = ("teacher", "student", "truth")
_OPTIONAL_KEYS = ("weights", "groups")


def load_predictions(path: str | Path) -> dict[str, np.ndarray | None]:
    """Read teacher/student/truth predictions from an ``.npz`` file.

    Expected keys and shapes: ``teacher`` and ``student`` ``[n_pairs, n_inputs]`` (binary
    probabilities) or ``[n_pairs, n_inputs, k]``; ``truth`` ``teacher.shape[1:]``; optional
    ``weights`` ``[n_pairs]`` and ``groups`` ``[n_pairs]``. Other keys are ignored with a warning.
    Domain checks (probabilities, simplex) happen in :func:`account`, which knows the generator.

    Args:
        path: the ``.npz`` file.

    Returns:
        ``{"teacher", "student", "truth", "weights", "groups"}``; absent optional keys are ``None``.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a readable npz, a missing key, or a key with a bad shape or dtype.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"`path` of load_predictions must be an existing .npz file. Got {str(p)!r}.")
    try:
        with np.load(p, allow_pickle=False) as data:
            if not hasattr(data, "files"):
                raise ValueError("not an npz archive")
            arrays = {k: np.asarray(data[k]) for k in data.files}
    except Exception as exc:
        raise ValueError(
            f"`path` of load_predictions must be an .npz archive written by numpy.savez with keys "
            f"{', '.join(_REQUIRED_KEYS)}. Could not read {str(p)!r}: {exc}"
        ) from None
    missing = [k for k in _REQUIRED_KEYS if k not in arrays]
    if missing:
        raise ValueError(
            f"{str(p)!r} must contain the keys {', '.join(_REQUIRED_KEYS)} (optional: "
            f"{', '.join(_OPTIONAL_KEYS)}). Missing: {', '.join(missing)}; found: {sorted(arrays)}."
        )
    extra = sorted(set(arrays) - set(_REQUIRED_KEYS) - set(_OPTIONAL_KEYS))
    if extra:
        warnings.warn(f"{str(p)!r}: ignoring unknown keys {extra}.", stacklevel=2)
    out: dict[str, np.ndarray | None] = {}
    for key in ("teacher", "student", "truth", "weights"):
        if key not in arrays:
            continue
        a = arrays[key]
        if a.dtype.kind not in "biuf":
            raise ValueError(f"{str(p)!r}: key {key!r} must hold real numbers. Got dtype {a.dtype} instead.")
    teacher, student, truth = arrays["teacher"], arrays["student"], arrays["truth"]
    if teacher.ndim not in (2, 3):
        raise ValueError(
            f"{str(p)!r}: key 'teacher' must have shape [n_pairs, n_inputs] or [n_pairs, n_inputs, k]. "
            f"Got {teacher.shape} instead."
        )
    if student.shape != teacher.shape:
        raise ValueError(
            f"{str(p)!r}: key 'student' must have the teacher's shape {teacher.shape}. Got {student.shape} instead."
        )
    if truth.shape != teacher.shape[1:]:
        raise ValueError(
            f"{str(p)!r}: key 'truth' must have shape teacher.shape[1:] = {teacher.shape[1:]}. "
            f"Got {truth.shape} instead."
        )
    n_pairs = teacher.shape[0]
    out.update(teacher=teacher, student=student, truth=truth, weights=None, groups=None)
    for key in _OPTIONAL_KEYS:
        if key in arrays:
            a = arrays[key]
            if a.shape != (n_pairs,):
                raise ValueError(
                    f"{str(p)!r}: key {key!r} must have shape ({n_pairs},) (one per pair). Got {a.shape} instead."
                )
            out[key] = a
    return out
