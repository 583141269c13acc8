"""Tests for w2sg.theory.accounting: Theorem 3.1, Corollary 3.1, Theorem B.1, Eq. (8), Cor. 5.1, Prop. 1."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import special

from w2sg.bregman import (
    KL,
    BinaryKL,
    BregmanGenerator,
    GeneralizedKL,
    ItakuraSaito,
    Mahalanobis,
    SquaredEuclidean,
    dual_mean,
    primal_mean,
)
from w2sg.theory.accounting import account, cross_entropy_accounting, load_predictions

GENS: dict[str, BregmanGenerator] = {
    "squared": SquaredEuclidean(),
    "mahalanobis": Mahalanobis(np.array([[2.0, 0.3, 0.0], [0.3, 1.0, 0.2], [0.0, 0.2, 0.5]])),
    "kl": KL(),
    "generalized-kl": GeneralizedKL(),
    "itakura-saito": ItakuraSaito(),
    "binary-kl": BinaryKL(),
}
K = 3


def points(name: str, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    if name in ("squared", "mahalanobis"):
        return rng.normal(size=shape + (K,))
    if name == "kl":
        return rng.dirichlet(np.full(K, 0.8), size=shape)
    if name in ("generalized-kl", "itakura-saito"):
        return np.exp(rng.normal(scale=0.7, size=shape + (K,)))
    return rng.uniform(0.03, 0.97, size=shape)


def joint_law(name: str, seed: int, *, n_groups: int = 4, per_group: int = 3, n_inputs: int = 5):
    """Teachers [P, N(, k)], students repeated within groups, random weights."""
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(n_groups), per_group)
    teacher = points(name, rng, (n_groups * per_group, n_inputs))
    student = points(name, rng, (n_groups, n_inputs))[groups]
    truth = points(name, rng, (n_inputs,))
    weights = rng.random(n_groups * per_group) + 0.05
    return teacher, student, truth, weights, groups


def close(a: float, b: float, rel: float = 1e-10) -> bool:
    return abs(a - b) <= rel * max(1.0, abs(a), abs(b))


def posterior_student(gen, teacher, weights, groups, kind: str) -> np.ndarray:
    """Student equal to the (dual or primal) posterior-mean teacher of its group."""
    out = np.empty_like(teacher)
    mean = dual_mean if kind == "dual" else primal_mean
    for g in np.unique(groups):
        idx = groups == g
        out[idx] = mean(gen, teacher[idx], axis=0, weights=weights[idx])
    return out


@pytest.mark.parametrize("name", list(GENS))
@pytest.mark.parametrize("seed", [0, 1])
def test_exact_identities_decompositions_and_bounds(name: str, seed: int) -> None:
    gen = GENS[name]
    teacher, student, truth, weights, groups = joint_law(name, seed)
    a = account(gen, teacher, student, truth, weights=weights, groups=groups)
    # Eq. (16) and its reverse: exact.
    assert close(a.student_risk, a.teacher_risk - a.reverse_misfit + a.forward_remainder)
    assert close(a.student_reverse_risk, a.teacher_reverse_risk - a.forward_misfit + a.reverse_remainder)
    # Eqs. (12)-(13) and the primal analogues (conditional Eqs. (2)-(3)).
    assert close(a.teacher_risk, a.dual_posterior_bias + a.dual_posterior_variance)
    assert close(a.reverse_misfit, a.student_to_dual_posterior + a.dual_posterior_variance)
    assert close(a.teacher_reverse_risk, a.primal_posterior_variance + a.primal_posterior_bias)
    assert close(a.forward_misfit, a.primal_posterior_variance + a.primal_posterior_to_student)
    # Cauchy-Schwarz: |remainder| <= eps, hence the bounds (4)-(5).
    assert abs(a.forward_remainder) <= a.epsilon_1 * (1 + 1e-12)
    assert abs(a.reverse_remainder) <= a.epsilon_2 * (1 + 1e-12)
    assert a.student_risk <= a.forward_bound + 1e-12
    assert a.student_reverse_risk <= a.reverse_bound + 1e-12
    assert a.gain == pytest.approx(a.teacher_risk - a.student_risk, abs=1e-15)
    assert a.w2sg_occurred == (a.student_risk < a.teacher_risk)
    assert (a.n_pairs, a.n_inputs, a.n_groups) == (12, 5, 4)
    # Direct recomputation of two terms from the raw divergences.
    wn = weights / weights.sum()
    d = np.asarray(gen.divergence(student, teacher))
    assert close(a.reverse_misfit, float(wn @ d.mean(axis=1)))
    d = np.asarray(gen.divergence(np.broadcast_to(truth, teacher.shape), teacher))
    assert close(a.teacher_risk, float(wn @ d.mean(axis=1)))


@pytest.mark.parametrize("name", list(GENS))
def test_independent_matches_explicit_product_law(name: str) -> None:
    """Theorem B.1: independent=True equals the dependent accounting of P_Fw x P_Fs built by hand."""
    gen = GENS[name]
    teacher, student, truth, weights, _ = joint_law(name, 7, n_groups=3, per_group=2)
    a = account(gen, teacher, student, truth, weights=weights, independent=True)
    n = len(weights)
    wn = weights / weights.sum()
    ti, si = np.repeat(np.arange(n), n), np.tile(np.arange(n), n)  # every teacher with every student
    b = account(gen, teacher[ti], student[si], truth, weights=wn[ti] * wn[si], groups=si)
    assert a.independent and not b.independent
    for field in ("teacher_risk", "student_risk", "reverse_misfit", "forward_misfit", "epsilon_1", "epsilon_2",
                  "forward_remainder", "reverse_remainder", "forward_bound", "reverse_bound",
                  "dual_posterior_variance", "primal_posterior_variance"):
        assert close(getattr(a, field), getattr(b, field), 1e-9), field
    assert a.student_risk <= a.forward_bound + 1e-12  # Eq. (19)
    assert a.student_reverse_risk <= a.reverse_bound + 1e-12  # Eq. (20)
    assert close(a.student_risk, a.teacher_risk - a.reverse_misfit + a.forward_remainder)


@pytest.mark.parametrize("name", list(GENS))
def test_corollary_3_1_equalities(name: str) -> None:
    gen = GENS[name]
    teacher, _, truth, weights, groups = joint_law(name, 3)
    # Student = dual posterior mean: eps1 = 0 and Eq. (6) with equality.
    s_dual = posterior_student(gen, teacher, weights, groups, "dual")
    a = account(gen, teacher, s_dual, truth, weights=weights, groups=groups)
    assert a.epsilon_1 <= 1e-7 * max(1.0, a.teacher_risk) and abs(a.forward_remainder) <= 1e-10
    assert close(a.student_risk, a.teacher_risk - a.reverse_misfit)
    assert close(a.reverse_misfit, a.dual_posterior_variance)  # misfit at its minimum (Lemma 2.1)
    assert a.reverse_misfit > 0 and a.w2sg_occurred
    # Student = primal posterior mean: eps2 = 0 and Eq. (7) with equality.
    s_primal = posterior_student(gen, teacher, weights, groups, "primal")
    b = account(gen, teacher, s_primal, truth, weights=weights, groups=groups)
    assert b.epsilon_2 <= 1e-7 * max(1.0, b.teacher_reverse_risk) and abs(b.reverse_remainder) <= 1e-10
    assert close(b.student_reverse_risk, b.teacher_reverse_risk - b.forward_misfit)
    assert close(b.forward_misfit, b.primal_posterior_variance)


def test_dirac_posterior_has_no_misfit_and_no_gain() -> None:
    rng = np.random.default_rng(0)
    teacher = rng.dirichlet(np.ones(3), size=(4, 6))
    a = account(KL(), teacher, teacher, rng.dirichlet(np.ones(3), size=6))
    assert a.reverse_misfit == 0.0 and a.forward_misfit == 0.0 and a.gain == 0.0
    assert a.epsilon_1 == pytest.approx(0.0, abs=1e-12) and not a.w2sg_occurred


def test_eq8_conditional_bias_variance_of_squared_misfit() -> None:
    rng = np.random.default_rng(5)
    groups = np.repeat(np.arange(3), 4)
    teacher = rng.normal(size=(12, 4, 1))
    student = rng.normal(size=(3, 4, 1))[groups]
    w = rng.random(12)
    a = account(SquaredEuclidean(), teacher, student, np.zeros((4, 1)), weights=w, groups=groups)
    wn = w / w.sum()
    t, s = teacher[..., 0], student[..., 0]
    misfit, cond_bias, cond_var = 0.0, 0.0, 0.0
    for g in range(3):
        i = groups == g
        pw = wn[i] / wn[i].sum()
        mean_g = pw @ t[i]  # E[Fw(x) | Fs] for every x
        misfit += wn[i] @ ((t[i] - s[i]) ** 2).mean(1)
        cond_bias += wn[i].sum() * ((mean_g - s[i][0]) ** 2).mean()
        cond_var += wn[i].sum() * (pw @ (t[i] - mean_g) ** 2).mean()
    assert close(misfit, cond_bias + cond_var)  # Eq. (8), averaged over x
    assert close(a.forward_misfit, misfit) and close(a.reverse_misfit, misfit)
    assert close(a.primal_posterior_to_student, cond_bias) and close(a.primal_posterior_gap_sq, cond_bias)
    assert close(a.primal_posterior_variance, cond_var)
    total_var = float((wn @ (t - wn @ t) ** 2).mean())
    assert cond_var <= total_var + 1e-12  # law of total variance (Remark 4.1)
    # Corollary 4.1: eps1 = eps2 = 2 sqrt(E|f*-Fs|^2) sqrt(E|Fw_bar - Fs|^2).
    eps = 2 * math.sqrt(float(wn @ (s**2).mean(1))) * math.sqrt(cond_bias)
    assert close(a.epsilon_1, eps) and close(a.epsilon_2, eps)


def test_hand_worked_tiny_case() -> None:
    # Teachers 1 and 3 share student 2; truth 0. R(Fw) = (1 + 9)/2, R(Fs) = 4, misfit = 1.
    a = account(SquaredEuclidean(), [[[1.0]], [[3.0]]], [[[2.0]], [[2.0]]], [[0.0]], groups=["a", "a"])
    assert (a.teacher_risk, a.student_risk, a.reverse_misfit, a.forward_misfit) == (5.0, 4.0, 1.0, 1.0)
    assert (a.epsilon_1, a.forward_remainder, a.gain, a.forward_bound) == (0.0, 0.0, 1.0, 4.0)
    # Without groups each pair is its own posterior: misfit 1, remainder 2 <f*-Fs, Fw - Fs> = 2*(-2)(-1 or 1).
    b = account(SquaredEuclidean(), [[[1.0]], [[3.0]]], [[[2.0]], [[2.0]]], [[0.0]], weights=[3, 1])
    assert b.forward_remainder == pytest.approx(0.75 * 4 + 0.25 * -4)
    assert b.epsilon_1 == pytest.approx(2 * 2 * 1)
    # Binary KL, one pair: D(1, 0.5) = log 2 for both slots of the hard truth.
    c = account(BinaryKL(), [[0.5]], [[0.8]], [1.0])
    assert c.teacher_risk == pytest.approx(math.log(2)) and c.student_risk == pytest.approx(-math.log(0.8))
    assert c.reverse_misfit == pytest.approx(0.8 * math.log(1.6) + 0.2 * math.log(0.4))


def test_cross_entropy_corollary_5_1_and_proposition_1() -> None:
    rng = np.random.default_rng(11)
    teacher, student, truth, weights, groups = joint_law("kl", 2)
    ce = cross_entropy_accounting(teacher, student, truth, weights=weights, groups=groups)
    wn = weights / weights.sum()
    E = lambda v: float(wn @ v.mean(1))  # noqa: E731
    assert close(ce.ce_truth_student, E(-(truth * np.log(student)).sum(-1)))
    assert close(ce.rce_teacher_student, E(-(student * np.log(teacher)).sum(-1)))
    assert close(ce.entropy_student, E(-(student * np.log(student)).sum(-1)))
    # Exact Cor. 5.1 identities.
    assert close(ce.ce_truth_student, ce.ce_truth_teacher - ce.rce_teacher_student + ce.entropy_student + ce.forward_remainder)
    assert close(ce.rce_truth_student, ce.rce_truth_teacher - ce.ce_teacher_student + ce.entropy_student + ce.reverse_remainder)
    assert ce.ce_truth_student <= ce.forward_bound and ce.rce_truth_student <= ce.reverse_bound
    # CE risk differs from the KL risk by H(f*).
    assert close(ce.ce_truth_student - ce.entropy_truth, ce.accounting.student_risk)
    # Prop. 1, eps1 = 0: the CE gain is E KL(Fs || Fw).
    s_dual = posterior_student(KL(), teacher, weights, groups, "dual")
    p = cross_entropy_accounting(teacher, s_dual, truth, weights=weights, groups=groups)
    assert close(p.ce_gain, p.ideal_forward_gain) and close(p.ideal_forward_gain, p.accounting.reverse_misfit)
    # Prop. 1, eps2 = 0: the RCE gain is E CE(Fw,Fs) - E H(Fs), below the Eq. (7) gain by the entropy gap.
    s_primal = posterior_student(KL(), teacher, weights, groups, "primal")
    q = cross_entropy_accounting(teacher, s_primal, truth, weights=weights, groups=groups)
    assert close(q.rce_gain, q.ideal_reverse_gain)
    assert q.entropy_gap > 0  # Jensen, non-Dirac posterior
    assert close(q.accounting.reverse_gain - q.rce_gain, q.entropy_gap)
    assert close(q.accounting.reverse_gain, q.accounting.forward_misfit)
    # Binary probabilities of class 1 are the same as two-class rows.
    tb, sb, yb = rng.uniform(0.1, 0.9, (4, 3)), rng.uniform(0.1, 0.9, (4, 3)), rng.uniform(0.1, 0.9, 3)
    two = lambda x: np.stack([1 - x, x], -1)  # noqa: E731
    assert cross_entropy_accounting(tb, sb, yb).to_dict() == cross_entropy_accounting(two(tb), two(sb), two(yb)).to_dict()
    # Independent: cross terms factorise, equal to the explicit product law.
    n = len(weights)
    ti, si = np.repeat(np.arange(n), n), np.tile(np.arange(n), n)
    ind = cross_entropy_accounting(teacher, student, truth, weights=weights, independent=True)
    exp = cross_entropy_accounting(teacher[ti], student[si], truth, weights=wn[ti] * wn[si], groups=si)
    for f in ("rce_teacher_student", "ce_teacher_student", "forward_remainder", "reverse_bound", "ce_gain"):
        assert close(getattr(ind, f), getattr(exp, f), 1e-9), f


def test_one_hot_truth_gives_inf_never_nan() -> None:
    teacher, student, _, weights, groups = joint_law("kl", 4)
    truth = np.eye(K)[[0, 1, 2, 0, 1]]
    a = account(KL(), teacher, student, truth, weights=weights, groups=groups)
    ce = cross_entropy_accounting(teacher, student, truth, weights=weights, groups=groups)
    values = [v for v in a.to_dict().values() if isinstance(v, float)]
    values += [v for v in ce.to_dict().values() if isinstance(v, float)]
    assert not any(math.isnan(v) for v in values)
    assert a.teacher_reverse_risk == a.student_reverse_risk == a.epsilon_2 == a.reverse_bound == math.inf
    assert ce.rce_truth_student == ce.rce_truth_teacher == math.inf
    assert math.isfinite(a.student_risk) and math.isfinite(a.epsilon_1)
    assert close(a.student_risk, a.teacher_risk - a.reverse_misfit + a.forward_remainder)
    # The reverse gain is the limit under smoothing of the truth: check its sign with a tiny epsilon.
    eps = 1e-200
    smooth = (1 - eps) * truth + eps / K
    s = account(KL(), teacher, student, smooth, weights=weights, groups=groups)
    assert math.isinf(a.reverse_gain) and np.sign(a.reverse_gain) == np.sign(s.reverse_gain)
    assert abs(s.reverse_gain) > 10
    # When the infinite parts cancel (student = primal posterior mean), the limit is finite.
    s_primal = posterior_student(KL(), teacher, weights, groups, "primal")
    b = account(KL(), teacher, s_primal, truth, weights=weights, groups=groups)
    sb = account(KL(), teacher, s_primal, (1 - 1e-12) * truth + 1e-12 / K, weights=weights, groups=groups)
    assert b.epsilon_2 == 0.0 and abs(b.reverse_remainder) < 1e-12
    assert b.reverse_gain == pytest.approx(sb.reverse_gain, rel=1e-6)
    json.loads(json.dumps(ce.to_dict()))  # serialisable (inf as Infinity)
    # Hard binary labels with BinaryKL.
    c = account(BinaryKL(), teacher[..., 0], student[..., 0], np.array([0.0, 1.0, 1.0, 0.0, 1.0]))
    assert c.teacher_reverse_risk == math.inf and not math.isnan(c.reverse_gain)


def test_group_weight_zero_and_errors() -> None:
    teacher, student, truth, weights, groups = joint_law("kl", 8)
    w0 = weights.copy()
    w0[groups == 1] = 0.0
    keep = groups != 1
    a = account(KL(), teacher, student, truth, weights=w0, groups=groups)
    b = account(KL(), teacher[keep], student[keep], truth, weights=weights[keep], groups=groups[keep])
    assert close(a.reverse_misfit, b.reverse_misfit) and close(a.epsilon_1, b.epsilon_1)
    bad = student.copy()
    bad[1] = teacher[1]
    with pytest.raises(ValueError, match=r"Group 0 has pair 1 differing from pair 0"):
        account(KL(), teacher, bad, truth, groups=groups)
    with pytest.raises(ValueError, match=r"`teacher` of account must have shape \[n_pairs, n_inputs, k\]"):
        account(KL(), teacher[0], student[0], truth)
    with pytest.raises(ValueError, match=r"`student` of account must have the teacher's shape"):
        account(KL(), teacher, student[:3], truth)
    with pytest.raises(ValueError, match=r"`truth` of account must have shape"):
        account(KL(), teacher, student, truth[:2])
    with pytest.raises(ValueError, match=r"`teacher` of KL must have entries > 0"):
        account(KL(), np.eye(K)[np.zeros((12, 5), int)], student, truth)
    with pytest.raises(ValueError, match=r"`groups` of account must have shape \(12,\)"):
        account(KL(), teacher, student, truth, groups=[0, 1])
    with pytest.raises(ValueError, match=r"`weights` of account must have a positive sum"):
        account(KL(), teacher, student, truth, weights=np.zeros(12))
    with pytest.raises(TypeError, match=r"`generator` of account must be a BregmanGenerator"):
        account("kl", teacher, student, truth)  # type: ignore[arg-type]


def test_load_predictions(tmp_path) -> None:
    teacher, student, truth, weights, groups = joint_law("kl", 9)
    path = tmp_path / "preds.npz"
    np.savez(path, teacher=teacher, student=student, truth=truth, weights=weights, groups=groups)
    data = load_predictions(path)
    np.testing.assert_array_equal(data["teacher"], teacher)
    np.testing.assert_array_equal(data["groups"], groups)
    np.savez(tmp_path / "min.npz", teacher=teacher, student=student, truth=truth)
    assert load_predictions(tmp_path / "min.npz")["weights"] is None
    np.savez(tmp_path / "miss.npz", teacher=teacher, truth=truth)
    with pytest.raises(ValueError, match=r"miss\.npz.*Missing: student"):
        load_predictions(tmp_path / "miss.npz")
    np.savez(tmp_path / "shape.npz", teacher=teacher, student=student, truth=truth[:2])
    with pytest.raises(ValueError, match=r"shape\.npz.*key 'truth' must have shape"):
        load_predictions(tmp_path / "shape.npz")
    np.savez(tmp_path / "w.npz", teacher=teacher, student=student, truth=truth, weights=weights[:3])
    with pytest.raises(ValueError, match=r"key 'weights' must have shape \(12,\)"):
        load_predictions(tmp_path / "w.npz")
    (tmp_path / "junk.npz").write_text("not an archive")
    with pytest.raises(ValueError, match=r"junk\.npz"):
        load_predictions(tmp_path / "junk.npz")
    with pytest.raises(FileNotFoundError, match=r"nope\.npz"):
        load_predictions(tmp_path / "nope.npz")
    np.savez(tmp_path / "extra.npz", teacher=teacher, student=student, truth=truth, other=truth)
    with pytest.warns(UserWarning, match=r"ignoring unknown keys \['other'\]"):
        load_predictions(tmp_path / "extra.npz")


def test_extreme_logits_stay_finite() -> None:
    """Near-degenerate softmax outputs (logits ~ +-700) give finite, exact accounting."""
    rng = np.random.default_rng(2)
    logits = rng.normal(scale=300.0, size=(6, 4, 2))
    teacher = special.softmax(logits, axis=-1)
    teacher = np.clip(teacher, 1e-300, None)
    teacher /= teacher.sum(-1, keepdims=True)
    student = np.repeat(special.softmax(rng.normal(size=(2, 4, 2)), axis=-1), 3, axis=0)
    a = account(KL(), teacher, student, np.eye(2)[[0, 1, 0, 1]], groups=np.repeat([0, 1], 3))
    assert math.isfinite(a.teacher_risk) and math.isfinite(a.epsilon_1)
    assert close(a.student_risk, a.teacher_risk - a.reverse_misfit + a.forward_remainder, 1e-9)
