"""Property and reference tests for w2sg.bregman (MATH.md sections 2.1-2.6)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize, special

from w2sg.bregman import (
    KL,
    BinaryKL,
    BregmanGenerator,
    GeneralizedKL,
    ItakuraSaito,
    Mahalanobis,
    SquaredEuclidean,
    bias_variance,
    dual_mean,
    primal_mean,
    three_point_identity,
)

NAMES = ["squared", "mahalanobis", "kl", "generalized-kl", "itakura-saito", "binary-kl"]
PROPS = settings(max_examples=30, deadline=None)


def make_generator(name: str, rng: np.random.Generator, k: int) -> BregmanGenerator:
    if name == "squared":
        return SquaredEuclidean()
    if name == "mahalanobis":
        b = rng.normal(size=(k, k))
        return Mahalanobis(b @ b.T + 0.5 * np.eye(k))
    return {"kl": KL(), "generalized-kl": GeneralizedKL(), "itakura-saito": ItakuraSaito(), "binary-kl": BinaryKL()}[name]


def sample(name: str, rng: np.random.Generator, shape: tuple[int, ...], k: int) -> np.ndarray:
    """Interior points of the generator's domain: shape + (k,) (binary-kl: shape + (k,) scalars)."""
    if name in ("squared", "mahalanobis"):
        return rng.normal(scale=2.0, size=shape + (k,))
    if name == "kl":
        return rng.dirichlet(np.full(k, 0.7), size=shape)
    if name in ("generalized-kl", "itakura-saito"):
        return np.exp(rng.normal(size=shape + (k,)))
    return rng.uniform(0.02, 0.98, size=shape + (k,))


def total_d(gen: BregmanGenerator, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Divergence summed to one number per leading index (binary-kl sums its elementwise values)."""
    d = np.asarray(gen.divergence(x, y))
    return d.sum(axis=-1) if gen.event_ndim == 0 else d


case = st.tuples(st.sampled_from(NAMES), st.integers(0, 2**31 - 1), st.integers(2, 5))


# --------------------------------------------------------------------------------------------
# Divergence axioms and identities
# --------------------------------------------------------------------------------------------


@PROPS
@given(case)
def test_nonnegative_and_identity_of_indiscernibles(c: tuple[str, int, int]) -> None:
    name, seed, k = c
    rng = np.random.default_rng(seed)
    gen = make_generator(name, rng, k)
    x, y = sample(name, rng, (6,), k), sample(name, rng, (6,), k)
    assert np.all(np.asarray(gen.divergence(x, x)) == 0.0)
    d = total_d(gen, x, y)
    assert np.all(d > 0)  # random continuous draws differ almost surely
    # Definition, MATH.md 2.1: D = phi(x) - phi(y) - <grad phi(y), x - y>.
    inner = ((x - y) * gen.grad(y)).sum(-1)
    phi_x, phi_y = np.asarray(gen.phi(x)), np.asarray(gen.phi(y))
    if gen.event_ndim == 0:
        phi_x, phi_y = phi_x.sum(-1), phi_y.sum(-1)
    np.testing.assert_allclose(d, phi_x - phi_y - inner, rtol=1e-9, atol=1e-10)


@PROPS
@given(case)
def test_three_point_identity(c: tuple[str, int, int]) -> None:
    name, seed, k = c
    rng = np.random.default_rng(seed)
    gen = make_generator(name, rng, k)
    x, y, z = (sample(name, rng, (4,), k) for _ in range(3))
    r = three_point_identity(gen, x, y, z)
    scale = 1.0 + np.abs(r.lhs)
    assert np.all(np.abs(np.asarray(r.residual)) <= 1e-9 * scale)
    # Independent check of Eq. (1) with only divergence() and grad().
    lhs = np.asarray(gen.divergence(x, y))
    rhs = np.asarray(gen.divergence(x, z)) + np.asarray(gen.divergence(z, y))
    ip = (x - z) * (gen.grad(y) - gen.grad(z))
    rhs = rhs - (ip.sum(-1) if gen.event_ndim == 1 else ip)
    np.testing.assert_allclose(lhs, rhs, rtol=1e-9, atol=1e-10)


@PROPS
@given(case, st.booleans())
def test_bias_variance_identities(c: tuple[str, int, int], weighted: bool) -> None:
    name, seed, k = c
    rng = np.random.default_rng(seed)
    gen = make_generator(name, rng, k)
    n = 7
    ys = sample(name, rng, (n,), k)
    z = sample(name, rng, (), k)
    w = rng.random(n) if weighted else None
    wn = np.full(n, 1.0 / n) if w is None else w / w.sum()
    for slot in ("first", "second"):
        bv = bias_variance(gen, ys, z, slot, weights=w)
        if slot == "first":  # Eq. (2)
            center = np.tensordot(wn, ys, 1)
            total = np.tensordot(wn, np.asarray(gen.divergence(ys, z)), 1)
            var = np.tensordot(wn, np.asarray(gen.divergence(ys, center)), 1)
            bias = np.asarray(gen.divergence(center, z))
        else:  # Eq. (3)
            center = gen.grad_conj(np.tensordot(wn, gen.grad(ys), 1))
            total = np.tensordot(wn, np.asarray(gen.divergence(z, ys)), 1)
            var = np.tensordot(wn, np.asarray(gen.divergence(center, ys)), 1)
            bias = np.asarray(gen.divergence(z, center))
        np.testing.assert_allclose(bv.total, total, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(bv.bias, bias, rtol=1e-8, atol=1e-11)
        np.testing.assert_allclose(bv.variance, var, rtol=1e-8, atol=1e-11)
        np.testing.assert_allclose(np.asarray(bv.total), np.asarray(bv.bias) + np.asarray(bv.variance), rtol=1e-9, atol=1e-11)


@PROPS
@given(case)
def test_grad_conj_inverts_grad(c: tuple[str, int, int]) -> None:
    name, seed, k = c
    rng = np.random.default_rng(seed)
    gen = make_generator(name, rng, k)
    x = sample(name, rng, (5,), k)
    np.testing.assert_allclose(gen.grad_conj(gen.grad(x)), x, rtol=1e-10, atol=1e-12)


@PROPS
@given(case, st.booleans())
def test_means_minimise_expected_divergence(c: tuple[str, int, int], weighted: bool) -> None:
    """Lemma 2.1: primal mean minimises E D(Y, z); dual mean minimises E D(z, Y)."""
    name, seed, k = c
    rng = np.random.default_rng(seed)
    gen = make_generator(name, rng, k)
    ys = sample(name, rng, (6,), k)
    w = rng.random(6) if weighted else np.ones(6)
    wn = w / w.sum()
    pm = np.asarray(primal_mean(gen, ys, weights=w))
    dm = np.asarray(dual_mean(gen, ys, weights=w))
    first = lambda z: float(wn @ total_d(gen, ys, np.broadcast_to(z, ys.shape)))  # noqa: E731
    second = lambda z: float(wn @ total_d(gen, np.broadcast_to(z, ys.shape), ys))  # noqa: E731
    for _ in range(20):
        for center, f in ((pm, first), (dm, second)):
            if name == "kl":
                cand = special.softmax(np.log(center) + rng.normal(scale=0.3, size=k))
            elif name in ("generalized-kl", "itakura-saito"):
                cand = center * np.exp(rng.normal(scale=0.3, size=k))
            elif name == "binary-kl":
                cand = special.expit(special.logit(center) + rng.normal(scale=0.3, size=k))
            else:
                cand = center + rng.normal(scale=0.3, size=k)
            assert f(cand) >= f(center) - 1e-12


@pytest.mark.parametrize("name", ["kl", "binary-kl", "itakura-saito"])
def test_dual_mean_matches_scipy_minimiser(name: str) -> None:
    rng = np.random.default_rng(3)
    k = 3
    gen = make_generator(name, rng, k)
    ys = sample(name, rng, (8,), k)
    dm = np.asarray(dual_mean(gen, ys))
    if name == "kl":
        to_point = lambda t: special.softmax(np.append(t, 0.0))  # noqa: E731
        t0 = np.zeros(k - 1)
    elif name == "binary-kl":
        to_point, t0 = special.expit, np.zeros(k)
    else:
        to_point, t0 = np.exp, np.zeros(k)
    obj = lambda t: float(np.mean(total_d(gen, np.broadcast_to(to_point(t), ys.shape), ys)))  # noqa: E731
    res = optimize.minimize(obj, t0, method="BFGS", options={"gtol": 1e-10})
    np.testing.assert_allclose(to_point(res.x), dm, atol=1e-5)


# --------------------------------------------------------------------------------------------
# Closed forms and hand-worked values
# --------------------------------------------------------------------------------------------


def test_closed_forms() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.dirichlet(np.ones(4), size=5), rng.dirichlet(np.ones(4), size=5)
    np.testing.assert_allclose(KL().divergence(x, y), (x * np.log(x / y)).sum(-1), rtol=1e-12)
    a, b = np.exp(rng.normal(size=(5, 3))), np.exp(rng.normal(size=(5, 3)))
    np.testing.assert_allclose(GeneralizedKL().divergence(a, b), (a * np.log(a / b) - a + b).sum(-1), rtol=1e-10)
    np.testing.assert_allclose(ItakuraSaito().divergence(a, b), (a / b - np.log(a / b) - 1).sum(-1), rtol=1e-9)
    p, q = rng.uniform(0.01, 0.99, 6), rng.uniform(0.01, 0.99, 6)
    ref = p * np.log(p / q) + (1 - p) * np.log((1 - p) / (1 - q))
    np.testing.assert_allclose(BinaryKL().divergence(p, q), ref, rtol=1e-10)
    np.testing.assert_allclose(SquaredEuclidean().divergence(a, b), ((a - b) ** 2).sum(-1), rtol=1e-12)
    A = np.array([[2.0, 0.5], [0.5, 1.0]])
    d = a[:, :2] - b[:, :2]
    np.testing.assert_allclose(Mahalanobis(A).divergence(a[:, :2], b[:, :2]), np.einsum("ni,ij,nj->n", d, A, d))
    # Hand-worked: KL([1/2,1/2] || [1/4,3/4]) = 1/2 log 2 + 1/2 log(2/3).
    assert KL().divergence([0.5, 0.5], [0.25, 0.75]) == pytest.approx(0.5 * np.log(2) + 0.5 * np.log(2 / 3))
    # Squared Euclidean has no factor 1/2 (MATH.md 2.3).
    assert SquaredEuclidean().divergence([3.0, 0.0], [0.0, 4.0]) == 25.0
    np.testing.assert_allclose(SquaredEuclidean().grad([1.0, -2.0]), [2.0, -4.0])


def test_dual_mean_closed_forms_and_extremes() -> None:
    rng = np.random.default_rng(1)
    ys = rng.dirichlet(np.ones(3), size=4)
    geo = np.prod(ys, axis=0) ** (1 / 4)
    np.testing.assert_allclose(dual_mean(KL(), ys), geo / geo.sum(), rtol=1e-12)
    pos = np.exp(rng.normal(size=(4, 3)))
    np.testing.assert_allclose(dual_mean(ItakuraSaito(), pos), 1 / np.mean(1 / pos, axis=0), rtol=1e-12)
    np.testing.assert_allclose(dual_mean(GeneralizedKL(), pos), np.prod(pos, 0) ** 0.25, rtol=1e-12)
    p = rng.uniform(0.1, 0.9, size=(4, 2))
    np.testing.assert_allclose(dual_mean(BinaryKL(), p), special.expit(special.logit(p).mean(0)), rtol=1e-12)
    np.testing.assert_allclose(dual_mean(SquaredEuclidean(), pos), pos.mean(0), rtol=1e-15)
    # Extreme logits: geometric mean of rows with entries near the float64 limit stays finite.
    tiny = np.array([[1e-300, 1 - 1e-300], [1e-200, 1 - 1e-200]])
    dm = dual_mean(KL(), tiny)
    assert np.isfinite(dm).all() and dm.sum() == pytest.approx(1.0) and dm[0] == pytest.approx(1e-250, rel=1e-9)
    # Weights are normalised and equal to repeating samples.
    np.testing.assert_allclose(dual_mean(KL(), ys, weights=[2, 1, 0, 1]), dual_mean(KL(), ys[[0, 0, 1, 3]]), rtol=1e-12)
    np.testing.assert_allclose(primal_mean(KL(), ys, weights=[4, 2, 0, 2]), ys[[0, 0, 1, 3]].mean(0), rtol=1e-12)
    # Sample axis other than 0.
    np.testing.assert_allclose(primal_mean(SquaredEuclidean(), np.swapaxes(pos[:, None], 0, 1), axis=1), pos.mean(0)[None])


def test_boundary_conventions_are_inf_or_finite_never_nan() -> None:
    kl = KL()
    assert kl.divergence([0.5, 0.5], [1.0, 0.0]) == np.inf
    assert kl.divergence([1.0, 0.0], [0.5, 0.5]) == pytest.approx(np.log(2))
    assert kl.divergence([1.0, 0.0], [1.0, 0.0]) == 0.0
    assert kl.phi([1.0, 0.0]) == 0.0
    g = kl.grad([1.0, 0.0])
    assert g[1] == -np.inf and g[0] == 0.0
    np.testing.assert_array_equal(kl.grad_conj(g), [1.0, 0.0])
    b = BinaryKL()
    assert b.divergence(0.5, 0.0) == np.inf and b.divergence(0.0, 0.0) == 0.0 and b.divergence(1.0, 1.0) == 0.0
    np.testing.assert_array_equal(b.grad([0.0, 1.0]), [-np.inf, np.inf])
    np.testing.assert_array_equal(b.grad_conj([-np.inf, np.inf, 800.0, -800.0]), [0.0, 1.0, 1.0, 0.0])
    assert GeneralizedKL().divergence([1.0, 0.0], [1.0, 0.0]) == 0.0
    assert GeneralizedKL().divergence([1.0, 1.0], [1.0, 0.0]) == np.inf
    # A boundary z makes the bias (and total) infinite in Eq. (2), the variance stays finite.
    bv = bias_variance(kl, [[0.5, 0.5], [0.7, 0.3]], [1.0, 0.0], "first")
    assert bv.total == np.inf and bv.bias == np.inf and np.isfinite(bv.variance)


def test_low_precision_inputs_are_computed_in_float64() -> None:
    x = np.array([0.3, 0.7], dtype=np.float16)  # rows sum to 1 only within float16 precision
    y = np.array([0.6, 0.4], dtype=np.float16)
    # In float64 the rounded rows sum to 1 + 2.4e-4: only a float16-aware tolerance accepts them.
    with pytest.raises(ValueError, match="simplex"):
        KL().divergence(x.astype(np.float64), y.astype(np.float64))
    ref = KL(atol=1e-3).divergence(x.astype(np.float64), y.astype(np.float64))
    assert KL().divergence(x, y) == ref
    assert isinstance(KL().divergence(x, y), float)
    ml_dtypes = pytest.importorskip("ml_dtypes")
    xb = np.array([0.3, 0.7], dtype=ml_dtypes.bfloat16)
    yb = np.array([0.6, 0.4], dtype=ml_dtypes.bfloat16)
    ref_b = KL(atol=1e-2).divergence(xb.astype(np.float64), yb.astype(np.float64))
    assert KL().divergence(xb, yb) == ref_b
    assert BinaryKL().divergence(xb, yb).dtype == np.float64


# --------------------------------------------------------------------------------------------
# Error paths
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: KL().divergence([-0.1, 1.1], [0.5, 0.5]), r"`x` of KL must have entries >= 0"),
        (lambda: KL().divergence([0.5, 0.6], [0.5, 0.5]), r"rows on the simplex"),
        (lambda: KL().divergence([0.5, 0.5], [0.2, 0.3, 0.5]), r"same vector size"),
        (lambda: KL().divergence(np.zeros((3, 2)) + 0.5, np.zeros((2, 2)) + 0.5), r"broadcastable shapes"),
        (lambda: dual_mean(KL(), [[1.0, 0.0], [0.5, 0.5]]), r"`ys` of KL must have entries > 0"),
        (lambda: KL().divergence([], []), r"must be non-empty"),
        (lambda: KL().divergence([np.nan, 1.0], [0.5, 0.5]), r"must not contain NaN"),
        (lambda: SquaredEuclidean().divergence([np.inf, 1.0], [0.5, 0.5]), r"must be finite"),
        (lambda: SquaredEuclidean().divergence(1.0, 2.0), r"vector on its last axis"),
        (lambda: Mahalanobis([[1.0, 2.0], [2.0, 1.0]]), r"positive definite.*-1"),
        (lambda: Mahalanobis([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), r"square matrix"),
        (lambda: Mahalanobis([[1.0, 0.5], [0.0, 1.0]]), r"symmetric"),
        (lambda: Mahalanobis(np.eye(2)).divergence([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]), r"size 2"),
        (lambda: ItakuraSaito().divergence([0.0, 1.0], [1.0, 1.0]), r"entries > 0 \(positive orthant\)"),
        (lambda: ItakuraSaito().grad_conj([0.5]), r"entries < 0"),
        (lambda: GeneralizedKL().divergence([-1.0], [1.0]), r"entries >= 0"),
        (lambda: GeneralizedKL().grad_conj([1000.0]), r"exp overflows"),
        (lambda: KL().grad_conj([-np.inf, -np.inf]), r"all -inf row"),
        (lambda: KL().grad_conj([np.inf, 0.0]), r"< \+inf"),
        (lambda: BinaryKL().divergence(1.2, 0.5), r"probabilities in \[0, 1\]"),
        (lambda: dual_mean(BinaryKL(), [0.0, 0.5]), r"in \(0, 1\)"),
        (lambda: primal_mean(KL(), [[0.5, 0.5]], weights=[-1.0]), r"`weights` of primal_mean must be finite and >= 0"),
        (lambda: primal_mean(KL(), [[0.5, 0.5]], weights=[0.0]), r"positive sum"),
        (lambda: primal_mean(KL(), [[0.5, 0.5]], weights=[1.0, 1.0]), r"shape \(1,\)"),
        (lambda: primal_mean(KL(), [[0.5, 0.5]], axis=-1), r"`axis` of primal_mean must index a sample axis"),
        (lambda: dual_mean(KL(), [0.5, 0.5]), r"must have a sample axis"),
        (lambda: bias_variance(KL(), [[0.5, 0.5]], [0.5, 0.5], "middle"), r"`slot` of bias_variance"),
        (lambda: bias_variance(KL(), [[0.5, 0.5]], [[0.5, 0.5]], "first"), r"`z` of bias_variance must have shape"),
        (lambda: three_point_identity(KL(), [0.5, 0.5], [1.0, 0.0], [0.5, 0.5]), r"`y` of KL must have entries > 0"),
        (lambda: KL(atol=-1.0), r"`atol` of KL"),
    ],
)
def test_value_errors(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


def test_type_errors() -> None:
    with pytest.raises(TypeError, match=r"`gen` must be a BregmanGenerator"):
        primal_mean("kl", [[0.5, 0.5]])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"real numeric array"):
        KL().divergence(["a", "b"], [0.5, 0.5])
    with pytest.raises(TypeError, match=r"real numeric array"):
        SquaredEuclidean().divergence(np.array([1j, 0]), [0.0, 0.0])
    with pytest.raises(TypeError, match=r"`axis` of dual_mean must be an int"):
        dual_mean(KL(), [[0.5, 0.5]], axis=0.0)  # type: ignore[arg-type]
