"""Tests for w2sg.losses: values against numpy formulas, gradients, edges, protocol and registry."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import expit, rel_entr

from w2sg import losses as L

EXTREME_Z = [-1e4, -50.0, -3.0, 0.0, 2.5, 50.0, 1e4]
EDGE_Y = [0.0, 1.0, 0.5, 1e-9, 1 - 1e-9, 0.3]


# ---------------------------------------------------------------- independent numpy references


def np_log_sigmoid(z):
    return -np.logaddexp(0.0, -z)


def np_ce(z, y):
    # -[y log s + (1-y) log(1-s)], 0 * finite = 0 at y in {0, 1}
    return -(y * np_log_sigmoid(z) + (1 - y) * np_log_sigmoid(-z))


def np_clamped_log(u, floor):
    with np.errstate(divide="ignore"):
        return np.maximum(np.log(u), floor)


def np_rce(z, y, floor=-100.0):
    s, one_minus_s = expit(z), expit(-z)
    return -(s * np_clamped_log(y, floor) + one_minus_s * np_clamped_log(1 - y, floor))


def np_kl(z, y):
    # y log(y/s) + (1-y) log((1-y)/(1-s)); each term 0 where its weight is 0
    with np.errstate(divide="ignore", invalid="ignore"):
        pos = np.where(y > 0, y * (np.log(np.where(y > 0, y, 1)) - np_log_sigmoid(z)), 0.0)
        neg = np.where(y < 1, (1 - y) * (np.log(np.where(y < 1, 1 - y, 1)) - np_log_sigmoid(-z)), 0.0)
    return pos + neg


def np_rkl(z, y, floor=-100.0):
    s, one_minus_s = expit(z), expit(-z)
    return s * (np_log_sigmoid(z) - np_clamped_log(y, floor)) + one_minus_s * (
        np_log_sigmoid(-z) - np_clamped_log(1 - y, floor)
    )


def grid():
    """All pairs of extreme logits and edge labels, plus random interior points."""
    rng = np.random.default_rng(0)
    z = np.concatenate([np.repeat(EXTREME_Z, len(EDGE_Y)), rng.normal(0, 4, 200)])
    y = np.concatenate([np.tile(EDGE_Y, len(EXTREME_Z)), rng.uniform(0, 1, 200)])
    return z, y


def t64(a):
    return torch.tensor(np.asarray(a), dtype=torch.float64)


# ---------------------------------------------------------------- values


@pytest.mark.parametrize(
    ("fn", "ref"),
    [
        (L.cross_entropy, np_ce),
        (L.reverse_cross_entropy, np_rce),
        (L.kl_divergence, np_kl),
        (L.reverse_kl_divergence, np_rkl),
    ],
    ids=["ce", "rce", "kl", "rkl"],
)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_values_match_numpy_formulas_including_edges(fn, ref, dtype):
    z, y = grid()
    out = fn(torch.tensor(z, dtype=dtype), torch.tensor(y, dtype=dtype))
    assert out.shape == (len(z),)
    assert torch.isfinite(out).all()
    # compare with the reference evaluated at the (possibly rounded) inputs actually used
    zr = torch.tensor(z, dtype=dtype).double().numpy()
    yr = torch.tensor(y, dtype=dtype).double().numpy()
    tol = dict(rtol=1e-10, atol=1e-10) if dtype == torch.float64 else dict(rtol=2e-5, atol=2e-5)
    np.testing.assert_allclose(out.double().numpy(), ref(zr, yr), **tol)


def test_hand_worked_values():
    z = t64([0.0, 0.0, np.log(3.0)])
    y = t64([0.5, 1.0, 0.25])
    # s = 1/2, 1/2, 3/4
    np.testing.assert_allclose(L.cross_entropy(z, y).numpy(), [np.log(2), np.log(2), -(0.25 * np.log(0.75) + 0.75 * np.log(0.25))])
    np.testing.assert_allclose(L.kl_divergence(z, y).numpy()[0], 0.0, atol=1e-15)
    # RCE at s = 1/2, y = 1 with Wang et al.'s A = -4: -(0.5 * 0 + 0.5 * -4) = 2
    assert L.reverse_cross_entropy(z[1:2], y[1:2], log_zero=-4.0).item() == pytest.approx(2.0)
    assert L.reverse_cross_entropy(z[1:2], y[1:2]).item() == pytest.approx(50.0)


def test_extreme_logits_give_exact_limits():
    z = torch.tensor([1e4, -1e4, 1e4, -1e4])
    y = torch.tensor([1.0, 0.0, 0.0, 1.0])
    ce = L.cross_entropy(z, y)
    np.testing.assert_allclose(ce.numpy(), [0.0, 0.0, 1e4, 1e4], rtol=1e-6)
    # fully confident and wrong: RCE pays the clamp, RKL pays s*(0 - A)
    np.testing.assert_allclose(L.reverse_cross_entropy(z, y).numpy(), [0.0, 0.0, 100.0, 100.0], atol=1e-5)
    np.testing.assert_allclose(L.reverse_kl_divergence(z, y).numpy(), [0.0, 0.0, 100.0, 100.0], atol=1e-5)


def test_kl_is_ce_minus_teacher_entropy_and_rkl_is_rce_minus_student_entropy():
    z, y = grid()
    zt, yt = t64(z), t64(y)
    h_y = L.binary_entropy(yt)
    h_s = L.binary_entropy(torch.sigmoid(zt))
    torch.testing.assert_close(L.kl_divergence(zt, yt), L.cross_entropy(zt, yt) - h_y, rtol=1e-9, atol=1e-9)
    inside = (yt > 1e-30) & (yt < 1 - 1e-16)  # where the log-0 clamp is not active
    torch.testing.assert_close(
        L.reverse_kl_divergence(zt, yt)[inside],
        (L.reverse_cross_entropy(zt, yt) - h_s)[inside],
        rtol=1e-9,
        atol=1e-9,
    )


def test_kl_against_scipy_rel_entr_at_moderate_logits():
    rng = np.random.default_rng(1)
    z, y = rng.normal(0, 3, 100), rng.uniform(0, 1, 100)
    expected = rel_entr(y, expit(z)) + rel_entr(1 - y, expit(-z))
    np.testing.assert_allclose(L.kl_divergence(t64(z), t64(y)).numpy(), expected, rtol=1e-9, atol=1e-12)


def test_kl_matches_bregman_binary_kl_teacher_first():
    bregman = pytest.importorskip("w2sg.bregman", reason="w2sg.bregman not available yet")
    rng = np.random.default_rng(2)
    z, y = rng.normal(0, 3, 64), rng.uniform(0.01, 0.99, 64)
    s = expit(z)
    expected = bregman.BinaryKL().divergence(y, s)
    np.testing.assert_allclose(L.kl_divergence(t64(z), t64(y)).numpy(), expected, rtol=1e-8, atol=1e-10)
    # the argument order matters: KL(s || y) is a different number
    assert not np.allclose(bregman.BinaryKL().divergence(s, y), expected)


@given(
    z=st.floats(-60, 60, allow_nan=False),
    y=st.floats(0, 1, allow_nan=False),
)
@settings(max_examples=200, deadline=None)
def test_divergences_nonnegative_and_ce_bounded_below_by_entropy(z, y):
    zt, yt = t64([z]), t64([y])
    assert L.kl_divergence(zt, yt).item() >= -1e-12
    assert L.reverse_kl_divergence(zt, yt).item() >= -1e-12
    assert L.cross_entropy(zt, yt).item() >= L.binary_entropy(yt).item() - 1e-12


# ---------------------------------------------------------------- gradients


def _grad(fn, z, y, **kw):
    zt = t64(z).requires_grad_(True)
    fn(zt, t64(y), **kw).sum().backward()
    return zt.grad.numpy()


def test_gradients_match_analytic_binary_forms():
    z, y = grid()
    s, one_minus_s = expit(z), expit(-z)
    for floor in (-100.0, -4.0):
        log_y, log_1my = np_clamped_log(y, floor), np_clamped_log(1 - y, floor)
        # BCE: s - y ; KL: s - y (Eqs. 34-35)
        np.testing.assert_allclose(_grad(L.cross_entropy, z, y), s - y, atol=1e-12)
        np.testing.assert_allclose(_grad(L.kl_divergence, z, y), s - y, atol=1e-12)
        # RBCE: -s(1-s) logit(y), with the clamp on log y (Eq. 36)
        np.testing.assert_allclose(
            _grad(L.reverse_cross_entropy, z, y, log_zero=floor),
            -s * one_minus_s * (log_y - log_1my),
            rtol=1e-9,
            atol=1e-12,
        )
        # binary RKL: s(1-s)(logit s - logit y) (Eq. 37); logit s = z
        np.testing.assert_allclose(
            _grad(L.reverse_kl_divergence, z, y, log_zero=floor),
            s * one_minus_s * (z - (log_y - log_1my)),
            rtol=1e-9,
            atol=1e-12,
        )


def test_ce_gradient_at_zero_logit_is_half_minus_y():
    # a zero-initialised head gives z = 0 exactly; the gradient must still be s - y
    assert _grad(L.cross_entropy, [0.0], [0.8])[0] == pytest.approx(-0.3)


@pytest.mark.parametrize("name", ["ce", "rce", "kl", "rkl", "aux", "cace", "sl"])
def test_gradcheck_float64(name):
    params = {"cace": {"threshold": 0.2}, "aux": {"alpha_max": 0.5, "warmup_frac": 0.5}}.get(name, {})
    objective = L.make_objective(name, **params)
    rng = np.random.default_rng(3)
    z = t64(rng.normal(0, 2, 12)).requires_grad_(True)
    y = t64(rng.uniform(0.02, 0.98, 12))
    stats = objective.batch_statistics(z.detach(), y)
    assert torch.autograd.gradcheck(lambda zz: objective(zz, y, progress=0.3, statistics=stats), (z,))


# ---------------------------------------------------------------- dtypes


@pytest.mark.parametrize("name", ["ce", "rce", "kl", "rkl", "aux", "cace", "sl"])
@pytest.mark.parametrize("low", [torch.bfloat16, torch.float16])
def test_low_precision_inputs_computed_in_float32(name, low):
    objective = L.make_objective(name, **({"threshold": 0.2} if name == "cace" else {}))
    rng = np.random.default_rng(4)
    z32 = torch.tensor(np.concatenate([rng.normal(0, 3, 60), [-50.0, 50.0, 0.0]]), dtype=torch.float32)
    y32 = torch.tensor(np.concatenate([rng.uniform(0, 1, 60), [0.0, 1.0, 0.5]]), dtype=torch.float32)
    z_low = z32.to(low).requires_grad_(True)
    out = objective(z_low, y32.to(low), progress=0.5)
    assert out.dtype == torch.float32
    assert torch.isfinite(out).all()
    # identical to a float32 computation on the rounded inputs ...
    ref = objective(z_low.detach().float(), y32.to(low).float(), progress=0.5)
    torch.testing.assert_close(out.detach(), ref)
    # ... and close to the full-precision one (inputs differ only by rounding)
    full = objective(z32, y32, progress=0.5)
    if name not in ("aux", "cace"):  # hardening / branch choice may flip at rounded inputs
        torch.testing.assert_close(out.detach(), full, rtol=0.05, atol=0.05)
    out.sum().backward()
    assert z_low.grad.dtype == low and torch.isfinite(z_low.grad.float()).all()


# ---------------------------------------------------------------- AUX


def test_aux_threshold_over_whole_batch_equals_concatenated_micro_batches():
    rng = np.random.default_rng(5)
    z = torch.tensor(rng.normal(0, 2, 48), dtype=torch.float32)
    y = torch.tensor(rng.uniform(0, 1, 48) ** 2, dtype=torch.float32)
    objective = L.make_objective("aux", alpha_max=0.5, warmup_frac=0.2)
    assert objective.needs_batch_statistics
    micro = list(zip(z.split(16), y.split(16)))
    stats = objective.batch_statistics(torch.cat([m[0] for m in micro]), torch.cat([m[1] for m in micro]))
    expected = np.quantile(expit(z.double().numpy()), 1 - y.double().mean().item())
    assert expit(stats["logit_threshold"].item()) == pytest.approx(expected, rel=1e-5)
    whole = objective(z, y, progress=1.0)
    pieces = torch.cat([objective(zm, ym, progress=1.0, statistics=stats) for zm, ym in micro])
    torch.testing.assert_close(pieces, whole)
    # per-micro-batch thresholds (the anchor's fault) give a different loss here
    local = torch.cat([objective(zm, ym, progress=1.0) for zm, ym in micro])
    assert not torch.allclose(local, whole)


def test_aux_fraction_hardened_equals_mean_teacher_label():
    rng = np.random.default_rng(6)
    n = 501
    z = torch.tensor(rng.normal(0, 1, n))
    y = torch.tensor(rng.beta(2, 5, n))
    t = L.aux_threshold(z, y)
    fraction = (z > t).double().mean().item()
    assert abs(fraction - y.mean().item()) <= 1.0 / n + 1e-12


def test_aux_equals_ce_against_mixed_target():
    rng = np.random.default_rng(7)
    z = t64(rng.normal(0, 2, 40))
    y = t64(rng.uniform(0, 1, 40))
    t = L.aux_threshold(z, y)
    hard = (expit(z.numpy()) > expit(t.item())).astype(float)
    for alpha in (0.0, 0.3, 1.0):
        np.testing.assert_allclose(
            L.aux_loss(z, y, alpha=alpha).numpy(), np_ce(z.numpy(), (1 - alpha) * y.numpy() + alpha * hard), rtol=1e-12
        )
    # the hardened label carries no gradient: d/dz = s - target
    zg = z.clone().requires_grad_(True)
    L.aux_loss(zg, y, alpha=0.3).sum().backward()
    np.testing.assert_allclose(zg.grad.numpy(), expit(z.numpy()) - (0.7 * y.numpy() + 0.3 * hard), atol=1e-12)


def test_aux_warmup_is_linear_then_constant():
    objective = L.make_objective("aux", alpha_max=0.6, warmup_frac=0.25)
    progress = np.linspace(0, 1, 41)
    alphas = np.array([objective.alpha(float(p)) for p in progress])
    np.testing.assert_allclose(alphas, 0.6 * np.minimum(1.0, progress / 0.25), atol=1e-15)
    ramp = progress <= 0.25
    assert np.allclose(np.diff(alphas[ramp]), 0.6 * 0.025 / 0.25)  # linear, no jump
    assert np.all(alphas[~ramp] == 0.6)
    assert L.aux_alpha(0.0, alpha_max=0.5, warmup_frac=0.0) == 0.5
    # the loss uses that weight: at progress 0 AUX is plain CE
    z, y = t64([2.0, -1.0, 0.5]), t64([0.2, 0.9, 0.5])
    torch.testing.assert_close(objective(z, y, progress=0.0), L.cross_entropy(z, y))


def test_aux_statistics_errors():
    objective = L.make_objective("aux")
    with pytest.raises(ValueError, match="logit_threshold"):
        objective(t64([0.0]), t64([0.5]), statistics={"wrong": torch.tensor(0.0)})
    with pytest.raises(ValueError, match="at least one example"):
        objective.batch_statistics(torch.zeros(0), torch.zeros(0))
    with pytest.raises(ValueError, match="`progress` of AuxObjective must be a float in \\[0, 1\\]"):
        objective(t64([0.0]), t64([0.5]), progress=1.5)


# ---------------------------------------------------------------- CACE


def test_cace_fit_threshold_is_quantile_of_teacher_confidence():
    rng = np.random.default_rng(8)
    teacher = rng.beta(0.8, 0.8, 1000)
    for tau in (0.1, 0.3, 0.5, 0.9):
        objective = L.make_objective("cace", quantile=tau)
        objective.fit(teacher)
        assert objective.threshold == pytest.approx(np.quantile(np.abs(teacher - 0.5), tau))
        # about a fraction tau of the training set falls below c
        assert np.mean(np.abs(teacher - 0.5) < objective.threshold) == pytest.approx(tau, abs=2e-3)


def test_cace_applies_rce_exactly_below_threshold():
    objective = L.make_objective("cace", threshold=0.25, log_zero=-4.0)
    y = t64([0.5, 0.3, 0.74, 0.75, 0.25, 0.9, 0.0, 1.0, 0.7500001])
    z = t64(np.linspace(-3, 3, len(y)))
    below = np.abs(y.numpy() - 0.5) < 0.25
    expected = np.where(below, np_rce(z.numpy(), y.numpy(), -4.0), np_ce(z.numpy(), y.numpy()))
    np.testing.assert_allclose(objective(z, y).numpy(), expected, rtol=1e-12)
    assert below.tolist() == [True, True, True, False, False, False, False, False, False]


def test_cace_must_be_fitted_and_rejects_bad_fit_data():
    objective = L.make_objective("cace")
    assert objective.params == {"quantile": 0.5, "threshold": None, "log_zero": -100.0}
    with pytest.raises(RuntimeError, match="fit\\(teacher_probs\\)"):
        objective(t64([0.0]), t64([0.5]))
    with pytest.raises(ValueError, match="row 2"):
        objective.fit(np.array([0.1, 0.5, 1.5]))
    with pytest.raises(ValueError, match="non-empty 1-D"):
        objective.fit(np.array([]))
    with pytest.raises(ValueError, match="exclusive"):
        L.make_objective("cace", quantile=0.3, threshold=0.1)


# ---------------------------------------------------------------- SL and smoothing


def test_sl_is_weighted_sum_alpha_on_ce():
    z, y = grid()
    zt, yt = t64(z), t64(y)
    objective = L.make_objective("sl", alpha=0.7, beta=1.3, log_zero=-4.0)
    torch.testing.assert_close(
        objective(zt, yt), 0.7 * L.cross_entropy(zt, yt) + 1.3 * L.reverse_cross_entropy(zt, yt, log_zero=-4.0)
    )
    torch.testing.assert_close(
        L.symmetric_cross_entropy(zt, yt, alpha=1.0, beta=0.0), L.cross_entropy(zt, yt)
    )


def test_smooth_labels_formula_and_types():
    y = np.array([0.0, 0.2, 1.0])
    np.testing.assert_allclose(L.smooth_labels(y, 0.6), 0.6 * y + 0.2)
    out = L.smooth_labels(torch.tensor([0.0, 1.0], dtype=torch.bfloat16), 0.0)
    assert out.dtype == torch.bfloat16 and torch.all(out == 0.5)
    with pytest.raises(ValueError, match="`alpha` of smooth_labels must be a float in \\[0, 1\\]. Got 1.5"):
        L.smooth_labels(y, 1.5)
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        L.smooth_labels(np.array([0.5, 2.0]), 0.5)


@pytest.mark.parametrize("y", [0.9, 0.62, 0.3, 0.05])
def test_proposition_2_rce_minimiser_invariant_under_smoothing_ce_minimiser_moves(y):
    s_grid = np.linspace(1e-4, 1 - 1e-4, 2001)
    z_grid = t64(np.log(s_grid) - np.log1p(-s_grid))
    rce_argmins, ce_argmins = [], []
    for alpha in (1.0, 0.6, 0.2, 0.05):
        y_tilde = float(L.smooth_labels(np.array([y]), alpha)[0])
        targets = t64(np.full(len(s_grid), y_tilde))
        rce_argmins.append(s_grid[L.reverse_cross_entropy(z_grid, targets).argmin().item()])
        ce_argmins.append(s_grid[L.cross_entropy(z_grid, targets).argmin().item()])
        assert ce_argmins[-1] == pytest.approx(y_tilde, abs=1e-3)
    # RCE: the minimiser is the hard label for every alpha in (0, 1]
    expected = s_grid[-1] if y > 0.5 else s_grid[0]
    assert rce_argmins == [expected] * 4
    # CE: the minimiser follows the smoothed label towards 1/2
    assert len(set(np.round(ce_argmins, 3))) == 4


# ---------------------------------------------------------------- evaluation loss


def test_evaluation_loss_is_ce_on_hard_labels():
    z = t64([-2.0, 0.0, 3.0])
    labels = torch.tensor([0, 1, 1])
    np.testing.assert_allclose(L.evaluation_loss(z, labels).numpy(), np_ce(z.numpy(), np.array([0, 1, 1.0])))
    with pytest.raises(ValueError, match="hard labels 0 or 1. Got 0.5 at row 1"):
        L.evaluation_loss(z, t64([0.0, 0.5, 1.0]))


# ---------------------------------------------------------------- protocol and registry


def test_registry_builds_every_objective_with_serialisable_params():
    assert L.available_objectives() == ["aux", "cace", "ce", "kl", "rce", "rkl", "sl"]
    for name in L.available_objectives():
        objective = L.make_objective(name)
        assert isinstance(objective, L.Objective)
        assert objective.name == name
        assert objective.needs_batch_statistics == (name == "aux")
        assert json.loads(json.dumps(objective.params)) == objective.params
        # rebuilding from params gives the same configuration
        assert L.make_objective(name, **objective.params).params == objective.params
    assert L.make_objective(" CE ").name == "ce"


def test_registry_unknown_name_suggests_and_lists():
    with pytest.raises(ValueError, match="Unknown objective 'auxx'. Did you mean 'aux'\\? Available: aux, cace, ce"):
        L.make_objective("auxx")
    with pytest.raises(ValueError, match="Available: aux, cace, ce, kl, rce, rkl, sl"):
        L.make_objective("hinge")
    with pytest.raises(TypeError, match="`name` of make_objective must be a string"):
        L.make_objective(3)


def test_registry_unknown_and_invalid_params():
    with pytest.raises(ValueError, match="Unknown parameter\\(s\\) 'alpha' for objective 'aux'. Did you mean 'alpha_max'"):
        L.make_objective("aux", alpha=0.5)
    with pytest.raises(ValueError, match="Allowed: \\(none\\)"):
        L.make_objective("ce", log_zero=-4.0)
    with pytest.raises(ValueError, match="`alpha_max` of objective 'aux' must be a float in \\[0, 1\\]. Got 1.5 instead"):
        L.make_objective("aux", alpha_max=1.5)
    with pytest.raises(ValueError, match="`warmup_frac` of objective 'aux'"):
        L.make_objective("aux", warmup_frac=-0.1)
    with pytest.raises(ValueError, match="`threshold` of objective 'cace' must be a float in \\[0, 0.5\\]"):
        L.make_objective("cace", threshold=0.7)
    with pytest.raises(ValueError, match="`quantile` of objective 'cace'"):
        L.make_objective("cace", quantile=float("nan"))
    with pytest.raises(ValueError, match="`beta` of objective 'sl' must be a float in \\[0, inf\\]"):
        L.make_objective("sl", beta=-1)
    with pytest.raises(ValueError, match="`log_zero` of objective 'rce' must be a finite float <= 0. Got 3"):
        L.make_objective("rce", log_zero=3.0)
    with pytest.raises(TypeError, match="`alpha` of objective 'sl' must be a float"):
        L.make_objective("sl", alpha="1")


def test_register_rejects_duplicates():
    with pytest.raises(ValueError, match="already registered"):
        L.register_objective("ce")(type("Other", (), {}))


def test_input_validation_messages():
    z, y = torch.zeros(3), torch.full((3,), 0.5)
    with pytest.raises(ValueError, match="same shape as `logits` \\(3,\\). Got shape \\(2,\\)"):
        L.cross_entropy(z, y[:2])
    with pytest.raises(ValueError, match="must be probabilities in \\[0, 1\\]. Got values in \\[-0.1, 0.5\\]"):
        L.cross_entropy(z, torch.tensor([-0.1, 0.5, 0.5]))
    with pytest.raises(ValueError, match="`logits` of cross_entropy must be finite"):
        L.cross_entropy(torch.tensor([0.0, float("nan"), 0.0]), y)
    with pytest.raises(TypeError, match="floating dtype"):
        L.cross_entropy(torch.zeros(3, dtype=torch.long), y)
    with pytest.raises(TypeError, match="must be a torch.Tensor. Got ndarray"):
        L.cross_entropy(np.zeros(3), y)
    with pytest.raises(ValueError, match="1-D tensor of shape \\[B\\]. Got shape \\(3, 1\\)"):
        L.make_objective("kl")(z[:, None], y[:, None])
    with pytest.raises(ValueError, match="`targets` of ReverseKLObjective must be finite"):
        L.make_objective("rkl")(z, torch.tensor([0.5, float("nan"), 0.5]))
    # empty batches are allowed for elementwise losses
    assert L.make_objective("ce")(torch.zeros(0), torch.zeros(0)).shape == (0,)
    assert L.make_objective("aux")(torch.zeros(0), torch.zeros(0)).shape == (0,)
