r"""Bregman divergences, primal and dual means, and the bias--variance decompositions.

A Bregman generator is a strictly convex, differentiable function :math:`\phi` on a convex set
:math:`\Omega`; it defines the divergence (MATH.md 2.1)

.. math::

    D_\phi(x, y) = \phi(x) - \phi(y) - \langle \nabla\phi(y),\, x - y \rangle \ge 0 .

Every generator here is a small frozen dataclass sharing the :class:`BregmanGenerator` base. All of
them are vectorised over leading axes with the vector on the last axis; :class:`BinaryKL` is the one
scalar generator and acts elementwise. Inputs of any real dtype (float16, bfloat16-like, integers)
are converted to float64 before computing.

=====================  ==========================================  ===============================
generator              :math:`\phi(x)`                             :math:`D_\phi(x, y)`
=====================  ==========================================  ===============================
``SquaredEuclidean``   :math:`\lVert x\rVert^2` (no 1/2)            :math:`\lVert x - y\rVert^2`
``Mahalanobis(A)``     :math:`x^\top A x`, :math:`A \succ 0`       :math:`(x-y)^\top A (x-y)`
``KL``                 :math:`\sum_j x_j \log x_j` on the simplex  :math:`\sum_j x_j\log(x_j/y_j)`
``GeneralizedKL``      :math:`\sum_j x_j\log x_j - x_j`            :math:`\sum_j x_j\log\frac{x_j}{y_j} - x_j + y_j`
``ItakuraSaito``       :math:`-\sum_j \log x_j`                    :math:`\sum_j \frac{x_j}{y_j} - \log\frac{x_j}{y_j} - 1`
``BinaryKL``           :math:`p\log p + (1-p)\log(1-p)`            binary KL of Bernoulli laws
=====================  ==========================================  ===============================

Boundary conventions (documented, never NaN): :class:`KL`, :class:`GeneralizedKL` and
:class:`BinaryKL` accept points on the boundary of their domain (zero probabilities, hard labels)
wherever the formula has a finite or a :math:`+\infty` limit: :math:`0\log 0 = 0`, and
:math:`D(x, y) = +\infty` when :math:`y_j = 0 < x_j`. Their dual map is then :math:`\pm\infty` at
the boundary (``log 0 = -inf``, ``logit(1) = +inf``). Dual means need interior points.
:class:`ItakuraSaito` needs strictly positive inputs everywhere.

References:
    Banerjee et al. (2005), "Clustering with Bregman divergences"; Pfau (2013), "A generalized
    bias-variance decomposition for Bregman divergences"; Adlam et al. (2022). Equation numbers
    refer to the paper's MATH.md: Eq. (1) three-point identity, Eqs. (2)-(3) bias--variance.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import linalg as sla
from scipy import special

__all__ = [
    "BiasVariance",
    "BinaryKL",
    "BregmanGenerator",
    "GeneralizedKL",
    "ItakuraSaito",
    "KL",
    "Mahalanobis",
    "SquaredEuclidean",
    "ThreePointIdentity",
    "bias_variance",
    "dual_mean",
    "normalize_weights",
    "primal_mean",
    "three_point_identity",
]

FloatArray = NDArray[np.float64]

# ---------------------------------------------------------------------------------------------
# Input conversion (the boundary of the module)
# ---------------------------------------------------------------------------------------------


def _input_eps(arr: np.ndarray) -> float:
    """Machine epsilon of the input's dtype (float64 for integers and unknown dtypes)."""
    try:
        return float(np.finfo(arr.dtype).eps)
    except (TypeError, ValueError):
        return float(np.finfo(np.float64).eps)


def _to_float64(x: ArrayLike, name: str, owner: str) -> tuple[FloatArray, float]:
    """Convert ``x`` to a float64 array; return it with the epsilon of the original dtype."""
    try:
        raw = np.asarray(x)
    except Exception as exc:  # pragma: no cover - exotic array-likes
        raise TypeError(f"`{name}` of {owner} must be a real array. Got {type(x).__name__} instead.") from exc
    if raw.dtype.kind in "cOSUM" or raw.dtype.kind == "m":
        raise TypeError(
            f"`{name}` of {owner} must be a real numeric array. Got dtype {raw.dtype} instead."
        )
    try:
        arr = raw.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"`{name}` of {owner} must be a real numeric array. Got dtype {raw.dtype} instead."
        ) from exc
    if arr.size == 0:
        raise ValueError(f"`{name}` of {owner} must be non-empty. Got shape {arr.shape} instead.")
    if np.isnan(arr).any():
        idx = tuple(int(i) for i in np.argwhere(np.isnan(arr))[0])
        raise ValueError(f"`{name}` of {owner} must not contain NaN. Got NaN at index {idx}.")
    return arr, _input_eps(raw)


def _first_bad(mask: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argwhere(mask)[0])


# ---------------------------------------------------------------------------------------------
# Generators
# ---------------------------------------------------------------------------------------------


class BregmanGenerator(abc.ABC):
    r"""Base of every Bregman generator :math:`\phi`.

    Subclasses implement :meth:`_phi`, :meth:`_grad`, :meth:`_grad_conj`, :meth:`_divergence` on
    validated float64 arrays; the public methods validate once and delegate.

    Attributes:
        event_ndim: 1 for vector generators (the vector is the last axis), 0 for scalar ones.
        closed_domain: whether boundary points (zeros, hard labels) are accepted where the
            formulas have limits (``KL``, ``GeneralizedKL``, ``BinaryKL``).
        dual_is_primal: whether the dual mean equals the primal mean (affine dual map).
    """

    event_ndim: ClassVar[int] = 1
    closed_domain: ClassVar[bool] = False
    dual_is_primal: ClassVar[bool] = False

    @property
    def name(self) -> str:
        """Short class name used in messages."""
        return type(self).__name__

    # -- validation ---------------------------------------------------------------------------

    def check(self, x: ArrayLike, name: str = "x", *, interior: bool = False) -> FloatArray:
        """Validate ``x`` as points of the domain and return them as float64.

        Args:
            x: array of points; the vector is the last axis (scalar generators: any shape).
            name: argument name used in error messages.
            interior: require the open domain even when the generator accepts its boundary.

        Returns:
            The float64 array.

        Raises:
            TypeError: non-numeric input.
            ValueError: empty, NaN, infinite, wrong event size or outside the domain.
        """
        arr, eps = _to_float64(x, name, self.name)
        if self.event_ndim == 1 and arr.ndim == 0:
            raise ValueError(
                f"`{name}` of {self.name} must have the vector on its last axis (ndim >= 1). "
                "Got a scalar instead."
            )
        if np.isinf(arr).any():
            raise ValueError(
                f"`{name}` of {self.name} must be finite. Got an infinite value at index "
                f"{_first_bad(np.isinf(arr))}."
            )
        self._check_domain(arr, name, interior=interior, eps=eps)
        return arr

    def _check_domain(self, arr: FloatArray, name: str, *, interior: bool, eps: float) -> None:
        """Domain check on a finite float64 array (default: all of R^k)."""

    def _check_positive(self, arr: FloatArray, name: str, *, strict: bool, what: str) -> None:
        bad = arr <= 0 if strict else arr < 0
        if bad.any():
            rel = "> 0" if strict else ">= 0"
            raise ValueError(
                f"`{name}` of {self.name} must have entries {rel} ({what}). Got "
                f"{float(arr[bad].flat[0])!r} at index {_first_bad(bad)}."
            )

    def check_dual(self, t: ArrayLike, name: str = "t") -> FloatArray:
        """Validate dual coordinates ``t`` (finite unless the dual map reaches infinity)."""
        arr, _ = _to_float64(t, name, self.name)
        if self.event_ndim == 1 and arr.ndim == 0:
            raise ValueError(
                f"`{name}` of {self.name} must have the vector on its last axis (ndim >= 1). "
                "Got a scalar instead."
            )
        self._check_dual_domain(arr, name)
        return arr

    def _check_dual_domain(self, arr: FloatArray, name: str) -> None:
        if np.isinf(arr).any():
            raise ValueError(
                f"`{name}` of {self.name} must be finite. Got an infinite value at index "
                f"{_first_bad(np.isinf(arr))}."
            )

    def _check_pair(self, x: FloatArray, y: FloatArray, xname: str, yname: str) -> None:
        if self.event_ndim == 1 and x.shape[-1] != y.shape[-1]:
            raise ValueError(
                f"`{xname}` and `{yname}` of {self.name} must have the same vector size (last axis). "
                f"Got {x.shape[-1]} and {y.shape[-1]} instead."
            )
        try:
            np.broadcast_shapes(x.shape, y.shape)
        except ValueError:
            raise ValueError(
                f"`{xname}` and `{yname}` of {self.name} must have broadcastable shapes. Got "
                f"{x.shape} and {y.shape} instead."
            ) from None

    # -- public API ---------------------------------------------------------------------------

    def phi(self, x: ArrayLike) -> FloatArray | float:
        r"""The generator :math:`\phi(x)`, reduced over the vector axis.

        Args:
            x: points of the domain, shape ``(..., k)`` (scalar generators: ``(...)``).

        Returns:
            Array of shape ``(...)`` (a float for a single point).
        """
        return _squeeze(self._phi(self.check(x, "x")))

    def grad(self, x: ArrayLike) -> FloatArray:
        r"""The dual map :math:`x^* = \nabla\phi(x)`, same shape as ``x``.

        Boundary points of a closed domain map to :math:`\pm\infty` (documented limit).
        """
        return self._grad(self.check(x, "x"))

    def grad_conj(self, t: ArrayLike) -> FloatArray:
        r"""The inverse dual map :math:`\nabla\phi^* = (\nabla\phi)^{-1}`, same shape as ``t``."""
        return self._grad_conj(self.check_dual(t, "t"))

    def divergence(self, x: ArrayLike, y: ArrayLike) -> FloatArray | float:
        r"""The Bregman divergence :math:`D_\phi(x, y)`, reduced over the vector axis.

        Args:
            x: first argument, shape ``(..., k)``.
            y: second argument, broadcastable against ``x``.

        Returns:
            Non-negative array of the broadcast leading shape; ``+inf`` where the divergence is
            infinite (e.g. KL with :math:`y_j = 0 < x_j`), never NaN.
        """
        xa = self.check(x, "x")
        ya = self.check(y, "y")
        self._check_pair(xa, ya, "x", "y")
        return _squeeze(self._divergence(xa, ya))

    # -- implementation hooks -----------------------------------------------------------------

    @abc.abstractmethod
    def _phi(self, x: FloatArray) -> FloatArray: ...

    @abc.abstractmethod
    def _grad(self, x: FloatArray) -> FloatArray: ...

    @abc.abstractmethod
    def _grad_conj(self, t: FloatArray) -> FloatArray: ...

    @abc.abstractmethod
    def _divergence(self, x: FloatArray, y: FloatArray) -> FloatArray: ...

    def _grad_of_grad_conj(self, t: FloatArray) -> FloatArray:
        r"""Dual coordinates :math:`\nabla\phi(\nabla\phi^*(t))` without the round trip.

        Equal to ``t`` for a Legendre generator; KL overrides it (the simplex fixes the constant).
        """
        return t

    def _reduce(self, v: FloatArray) -> FloatArray:
        """Sum over the vector axis (identity for scalar generators)."""
        return _sum_last(v) if self.event_ndim == 1 else v

    def _inner(self, a: FloatArray, b: FloatArray) -> FloatArray:
        """Euclidean inner product over the vector axis (product for scalar generators)."""
        return self._reduce(a * b)


def _rel_entr(x: FloatArray, y: FloatArray) -> FloatArray:
    """Elementwise x log(x/y) with 0 log(0/y) = 0 and +inf for y = 0 < x (fast scipy.special.rel_entr)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        t = x * (np.log(x) - np.log(y))  # log 0 = -inf makes y = 0 < x give +inf
    return np.where(x > 0, t, 0.0)


def _sum_last(v: FloatArray) -> FloatArray:
    """Sum over the last axis; for a short axis, adding slices beats numpy's strided reduce."""
    k = v.shape[-1]
    if k > 16:
        return v.sum(axis=-1)
    out = v[..., 0].copy()
    for j in range(1, k):
        out += v[..., j]
    return out


def _squeeze(v: FloatArray) -> FloatArray | float:
    return float(v) if np.ndim(v) == 0 else v


@dataclass(frozen=True)
class SquaredEuclidean(BregmanGenerator):
    r"""Squared Euclidean generator :math:`\phi(x) = \lVert x\rVert_2^2` (no factor 1/2).

    .. math::

        D(x, y) = \lVert x - y\rVert_2^2, \qquad \nabla\phi(x) = 2x, \qquad
        \nabla\phi^*(t) = t / 2 .

    Reference: MATH.md 2.3, first row; Corollary 4.1 uses it.

    Examples:
        >>> SquaredEuclidean().divergence([1.0, 2.0], [0.0, 0.0])
        5.0
    """

    dual_is_primal: ClassVar[bool] = True

    def _phi(self, x: FloatArray) -> FloatArray:
        return _sum_last(x * x)

    def _grad(self, x: FloatArray) -> FloatArray:
        return 2.0 * x

    def _grad_conj(self, t: FloatArray) -> FloatArray:
        return 0.5 * t

    def _divergence(self, x: FloatArray, y: FloatArray) -> FloatArray:
        d = x - y
        return _sum_last(d * d)


@dataclass(frozen=True, eq=False)
class Mahalanobis(BregmanGenerator):
    r"""Squared Mahalanobis generator :math:`\phi(x) = x^\top A x` with :math:`A` symmetric PD.

    .. math::

        D(x, y) = (x - y)^\top A (x - y), \qquad \nabla\phi(x) = 2Ax, \qquad
        \nabla\phi^*(t) = \tfrac12 A^{-1} t .

    Args:
        A: matrix of shape ``(k, k)``, symmetric (to 1e-10 relative) and positive definite
            (checked with a Cholesky factorisation).

    Reference: MATH.md 2.3, second row.

    Examples:
        >>> Mahalanobis([[2.0, 0.0], [0.0, 1.0]]).divergence([1.0, 1.0], [0.0, 0.0])
        3.0
    """

    A: Any
    _A: FloatArray = field(init=False, repr=False)
    _A_inv: FloatArray = field(init=False, repr=False)

    dual_is_primal: ClassVar[bool] = True

    def __post_init__(self) -> None:
        a, _ = _to_float64(self.A, "A", "Mahalanobis")
        if a.ndim != 2 or a.shape[0] != a.shape[1]:
            raise ValueError(f"`A` of Mahalanobis must be a square matrix (k, k). Got shape {a.shape} instead.")
        if np.isinf(a).any():
            raise ValueError("`A` of Mahalanobis must be finite. Got an infinite entry instead.")
        scale = max(float(np.abs(a).max()), np.finfo(np.float64).tiny)
        asym = float(np.abs(a - a.T).max())
        if asym > 1e-10 * scale:
            raise ValueError(
                f"`A` of Mahalanobis must be symmetric. Got max |A - A^T| = {asym:.3g} instead."
            )
        a = 0.5 * (a + a.T)
        try:
            chol = sla.cho_factor(a, lower=True)
        except np.linalg.LinAlgError:
            eig = float(np.linalg.eigvalsh(a).min())
            raise ValueError(
                f"`A` of Mahalanobis must be positive definite. Got smallest eigenvalue {eig:.3g} instead."
            ) from None
        a_inv = sla.cho_solve(chol, np.eye(a.shape[0]))
        a.setflags(write=False)
        a_inv = 0.5 * (a_inv + a_inv.T)
        a_inv.setflags(write=False)
        object.__setattr__(self, "_A", a)
        object.__setattr__(self, "_A_inv", a_inv)

    def __repr__(self) -> str:
        return f"Mahalanobis(A={self._A.tolist()!r})"

    def _check_domain(self, arr: FloatArray, name: str, *, interior: bool, eps: float) -> None:
        k = self._A.shape[0]
        if arr.shape[-1] != k:
            raise ValueError(
                f"`{name}` of Mahalanobis must have vectors of size {k} (the size of A) on its last "
                f"axis. Got shape {arr.shape} instead."
            )

    def _check_dual_domain(self, arr: FloatArray, name: str) -> None:
        super()._check_dual_domain(arr, name)
        self._check_domain(arr, name, interior=False, eps=0.0)

    def _phi(self, x: FloatArray) -> FloatArray:
        return np.einsum("...i,ij,...j->...", x, self._A, x)

    def _grad(self, x: FloatArray) -> FloatArray:
        return 2.0 * x @ self._A  # A symmetric, so x A = (A x)^T

    def _grad_conj(self, t: FloatArray) -> FloatArray:
        return 0.5 * t @ self._A_inv

    def _divergence(self, x: FloatArray, y: FloatArray) -> FloatArray:
        d = x - y
        return np.maximum(np.einsum("...i,ij,...j->...", d, self._A, d), 0.0)  # clip rounding


class _LogDomain(BregmanGenerator):
    """Shared pieces of generators whose dual map is ``log`` (KL, generalised KL)."""

    closed_domain: ClassVar[bool] = True

    def _grad(self, x: FloatArray) -> FloatArray:
        with np.errstate(divide="ignore"):
            return np.log(x)  # log 0 = -inf: the boundary limit of the dual map

    def _check_dual_domain(self, arr: FloatArray, name: str) -> None:
        if np.isposinf(arr).any():
            raise ValueError(
                f"`{name}` of {self.name} must be < +inf (dual coordinates are log x). Got +inf at "
                f"index {_first_bad(np.isposinf(arr))}."
            )


@dataclass(frozen=True)
class KL(_LogDomain):
    r"""Negative entropy on the probability simplex: the KL divergence.

    .. math::

        \phi(x) = \sum_j x_j \log x_j, \qquad
        D(x, y) = \mathrm{KL}(x \Vert y) = \sum_j x_j \log\frac{x_j}{y_j}, \qquad
        \nabla\phi(x) = \log x \;(+\text{const}), \qquad
        \nabla\phi^*(t) = \mathrm{softmax}(t).

    Conventions: :math:`0 \log 0 = 0`; :math:`D(x, y) = +\infty` when :math:`y_j = 0 < x_j`;
    ``grad`` maps a zero entry to ``-inf``. The dual map is defined up to an additive constant;
    ``log x`` (constant 0) is used, and every difference of dual coordinates equals that of the
    true gradient :math:`\log x + 1`.

    Args:
        atol: rows must sum to 1 within ``max(atol, k * eps(input dtype))`` (so float16 and
            bfloat16 inputs are accepted at their own precision). Entries must be >= 0.

    Reference: MATH.md 2.3 (third row) and 6.1.

    Examples:
        >>> round(KL().divergence([0.5, 0.5], [0.25, 0.75]), 6)
        0.143841
    """

    atol: float = 1e-6

    def __post_init__(self) -> None:
        if not (isinstance(self.atol, (int, float)) and np.isfinite(self.atol) and self.atol > 0):
            raise ValueError(f"`atol` of KL must be a finite float > 0. Got {self.atol!r} instead.")

    def _check_domain(self, arr: FloatArray, name: str, *, interior: bool, eps: float) -> None:
        self._check_positive(arr, name, strict=interior, what="probabilities" if not interior
                             else "dual means and dual maps need interior points of the simplex")
        tol = max(self.atol, arr.shape[-1] * eps)
        err = np.abs(_sum_last(arr) - 1.0)
        if (err > tol).any():
            bad = err > tol
            idx = _first_bad(bad)
            raise ValueError(
                f"`{name}` of KL must have rows on the simplex (last axis summing to 1 within {tol:.2g}). "
                f"Got a row summing to {float(_sum_last(arr)[idx])!r} at index {idx}."
            )

    def _check_dual_domain(self, arr: FloatArray, name: str) -> None:
        super()._check_dual_domain(arr, name)
        if np.isneginf(arr).all(axis=-1).any():
            raise ValueError(
                f"`{name}` of KL must have at least one finite entry per row (softmax of all -inf is "
                f"undefined). Got an all -inf row at index {_first_bad(np.isneginf(arr).all(axis=-1))}."
            )

    def _phi(self, x: FloatArray) -> FloatArray:
        return _sum_last(special.xlogy(x, x))  # xlogy(0, 0) = 0

    def _grad_conj(self, t: FloatArray) -> FloatArray:
        return special.softmax(t, axis=-1)  # max-shifted, stable for extreme logits

    def _grad_of_grad_conj(self, t: FloatArray) -> FloatArray:
        return special.log_softmax(t, axis=-1)  # log(softmax(t)) without underflow

    def _divergence(self, x: FloatArray, y: FloatArray) -> FloatArray:
        # x log(x/y), 0 at x = 0, +inf at y = 0 < x.
        return np.maximum(_sum_last(_rel_entr(x, y)), 0.0)  # D >= 0; clip rounding


@dataclass(frozen=True)
class GeneralizedKL(_LogDomain):
    r"""Generalised KL (I-divergence) on the non-negative orthant.

    .. math::

        \phi(x) = \sum_j x_j\log x_j - x_j, \qquad
        D(x, y) = \sum_j x_j \log\frac{x_j}{y_j} - x_j + y_j, \qquad
        \nabla\phi(x) = \log x, \qquad \nabla\phi^*(t) = e^t .

    Zero entries follow the KL conventions (:math:`0\log 0 = 0`, ``+inf`` when
    :math:`y_j = 0 < x_j`).

    Reference: MATH.md 2.3, fourth row.

    Examples:
        >>> round(GeneralizedKL().divergence([1.0, 2.0], [2.0, 1.0]), 6)
        0.693147
    """

    def _check_domain(self, arr: FloatArray, name: str, *, interior: bool, eps: float) -> None:
        self._check_positive(arr, name, strict=interior, what="non-negative orthant" if not interior
                             else "dual means and dual maps need interior points")

    def _phi(self, x: FloatArray) -> FloatArray:
        return _sum_last(special.xlogy(x, x) - x)

    def _grad_conj(self, t: FloatArray) -> FloatArray:
        with np.errstate(over="raise"):
            try:
                return np.exp(t)
            except FloatingPointError:
                raise ValueError(
                    "`t` of GeneralizedKL must be <= log(max float) ~ 709.78 (exp overflows). "
                    f"Got max {float(t.max())!r}."
                ) from None

    def _divergence(self, x: FloatArray, y: FloatArray) -> FloatArray:
        # x log(x/y) - x + y, with the 0 log 0 = 0 and +inf conventions.
        return np.maximum(_sum_last(_rel_entr(x, y) - x + y), 0.0)  # clip rounding


@dataclass(frozen=True)
class ItakuraSaito(BregmanGenerator):
    r"""Itakura--Saito divergence (Burg entropy) on the positive orthant.

    .. math::

        \phi(x) = -\sum_j \log x_j, \qquad
        D(x, y) = \sum_j \frac{x_j}{y_j} - \log\frac{x_j}{y_j} - 1, \qquad
        \nabla\phi(x) = -1/x, \qquad \nabla\phi^*(t) = -1/t \;(t < 0).

    All inputs must be strictly positive; dual coordinates strictly negative.

    Reference: MATH.md 2.3, fifth row.

    Examples:
        >>> round(ItakuraSaito().divergence([2.0], [1.0]), 6)
        0.306853
    """

    def _check_domain(self, arr: FloatArray, name: str, *, interior: bool, eps: float) -> None:
        self._check_positive(arr, name, strict=True, what="positive orthant")

    def _check_dual_domain(self, arr: FloatArray, name: str) -> None:
        super()._check_dual_domain(arr, name)
        if (arr >= 0).any():
            raise ValueError(
                f"`{name}` of ItakuraSaito must have entries < 0 (dual coordinates -1/x). Got "
                f"{float(arr[arr >= 0].flat[0])!r} at index {_first_bad(arr >= 0)}."
            )

    def _phi(self, x: FloatArray) -> FloatArray:
        return -_sum_last(np.log(x))

    def _grad(self, x: FloatArray) -> FloatArray:
        return -1.0 / x

    def _grad_conj(self, t: FloatArray) -> FloatArray:
        return -1.0 / t

    def _divergence(self, x: FloatArray, y: FloatArray) -> FloatArray:
        # r - 1 - log r with d = r - 1: d - log1p(d) keeps precision for r near 1.
        d = (x - y) / y
        return np.maximum(_sum_last(d - np.log1p(d)), 0.0)  # clip rounding


@dataclass(frozen=True)
class BinaryKL(BregmanGenerator):
    r"""Binary (Bernoulli) KL: negative binary entropy of a probability :math:`p \in [0, 1]`.

    Scalar generator acting elementwise (no vector axis).

    .. math::

        \phi(p) = p\log p + (1-p)\log(1-p), \qquad
        D(p, q) = p\log\frac pq + (1-p)\log\frac{1-p}{1-q}, \qquad
        \nabla\phi(p) = \mathrm{logit}(p), \qquad \nabla\phi^*(t) = \sigma(t).

    Hard labels 0 and 1 are accepted (:math:`0\log 0 = 0`; ``grad`` gives :math:`\mp\infty`;
    ``D(p, q) = +inf`` for ``q`` in {0, 1} and ``p != q``); ``grad_conj`` accepts ``±inf``.

    Reference: MATH.md 2.3, last row; 7.5 (sigmoid-head ensemble).

    Examples:
        >>> round(BinaryKL().divergence(0.5, 0.25), 6)
        0.143841
    """

    event_ndim: ClassVar[int] = 0
    closed_domain: ClassVar[bool] = True

    def _check_domain(self, arr: FloatArray, name: str, *, interior: bool, eps: float) -> None:
        if interior:
            bad = (arr <= 0) | (arr >= 1)
            rng = "in (0, 1) (dual means and dual maps need interior points)"
        else:
            bad = (arr < 0) | (arr > 1)
            rng = "in [0, 1]"
        if bad.any():
            raise ValueError(
                f"`{name}` of BinaryKL must be probabilities {rng}. Got {arr[bad].flat[0]!r} at "
                f"index {_first_bad(bad)}."
            )

    def _check_dual_domain(self, arr: FloatArray, name: str) -> None:
        """Logits may be ±inf (sigmoid has limits 0 and 1); NaN was rejected on conversion."""

    def _phi(self, x: FloatArray) -> FloatArray:
        return special.xlogy(x, x) + special.xlogy(1.0 - x, 1.0 - x)

    def _grad(self, x: FloatArray) -> FloatArray:
        with np.errstate(divide="ignore"):
            return special.logit(x)  # logit(0) = -inf, logit(1) = +inf

    def _grad_conj(self, t: FloatArray) -> FloatArray:
        return special.expit(t)

    def _divergence(self, x: FloatArray, y: FloatArray) -> FloatArray:
        return np.maximum(_rel_entr(x, y) + _rel_entr(1.0 - x, 1.0 - y), 0.0)  # clip rounding


# ---------------------------------------------------------------------------------------------
# Means and decompositions
# ---------------------------------------------------------------------------------------------


def _check_generator(gen: Any) -> BregmanGenerator:
    if not isinstance(gen, BregmanGenerator):
        raise TypeError(
            "`gen` must be a BregmanGenerator (SquaredEuclidean(), Mahalanobis(A), KL(), "
            f"GeneralizedKL(), ItakuraSaito(), BinaryKL()). Got {type(gen).__name__} instead."
        )
    return gen


def _sample_axis(gen: BregmanGenerator, ys: FloatArray, axis: int, fn: str) -> int:
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
        raise TypeError(f"`axis` of {fn} must be an int. Got {type(axis).__name__} instead.")
    n_sample_dims = ys.ndim - gen.event_ndim
    if n_sample_dims < 1:
        raise ValueError(
            f"`ys` of {fn} must have a sample axis besides the vector axis of {gen.name}. "
            f"Got shape {ys.shape} instead."
        )
    ax = int(axis) + ys.ndim if axis < 0 else int(axis)
    if not 0 <= ax < n_sample_dims:
        raise ValueError(
            f"`axis` of {fn} must index a sample axis of `ys` (not the vector axis), i.e. in "
            f"[{-ys.ndim}, {n_sample_dims - 1}] excluding the last {gen.event_ndim}. Got {axis} "
            f"for shape {ys.shape} instead."
        )
    return ax


def normalize_weights(weights: ArrayLike | None, n: int, *, name: str = "weights", owner: str) -> FloatArray:
    """Validate non-negative weights of length ``n`` with a positive sum; return them normalised.

    ``None`` gives uniform weights ``1/n``.
    """
    if weights is None:
        return np.full(n, 1.0 / n)
    w, _ = _to_float64(weights, name, owner)
    if w.shape != (n,):
        raise ValueError(f"`{name}` of {owner} must have shape ({n},). Got {w.shape} instead.")
    if not np.isfinite(w).all() or (w < 0).any():
        bad = ~np.isfinite(w) | (w < 0)
        raise ValueError(
            f"`{name}` of {owner} must be finite and >= 0. Got {float(w[bad][0])!r} at index {int(np.argmax(bad))}."
        )
    total = w.sum()
    if not total > 0:
        raise ValueError(f"`{name}` of {owner} must have a positive sum. Got sum {float(total)!r} instead.")
    return w / total


def _weighted_mean(v: FloatArray, w: FloatArray, axis: int) -> FloatArray:
    return np.tensordot(w, np.moveaxis(v, axis, 0), axes=(0, 0))


def primal_mean(
    gen: BregmanGenerator, ys: ArrayLike, axis: int = 0, weights: ArrayLike | None = None
) -> FloatArray | float:
    r"""Primal (ordinary) weighted mean :math:`\mathbb E[Y] = \sum_i w_i y_i`.

    It minimises :math:`z \mapsto \mathbb E\, D_\phi(Y, z)` (random point in the first slot;
    Lemma 2.1.1, Banerjee et al. 2005).

    Args:
        gen: the Bregman generator (fixes the domain that ``ys`` is checked against).
        ys: samples, with the sample axis ``axis`` and (vector generators) the vector last.
        axis: the sample axis; must not be the vector axis.
        weights: optional non-negative weights of length ``ys.shape[axis]`` with a positive sum;
            normalised internally. ``None`` means uniform.

    Returns:
        ``ys`` averaged over ``axis``.

    Raises:
        ValueError: empty or out-of-domain samples, bad axis or weights.

    Examples:
        >>> primal_mean(SquaredEuclidean(), [[0.0, 2.0], [2.0, 4.0]])
        array([1., 3.])
    """
    gen = _check_generator(gen)
    y = gen.check(ys, "ys")
    ax = _sample_axis(gen, y, axis, "primal_mean")
    w = normalize_weights(weights, y.shape[ax], owner="primal_mean")
    return _squeeze(_weighted_mean(y, w, ax))


def dual_mean(
    gen: BregmanGenerator, ys: ArrayLike, axis: int = 0, weights: ArrayLike | None = None
) -> FloatArray | float:
    r"""Dual (Bregman) mean :math:`\mathbb E^*[Y] = \nabla\phi^*\big(\mathbb E[\nabla\phi(Y)]\big)`.

    It minimises :math:`z \mapsto \mathbb E\, D_\phi(z, Y)` (random point in the second slot;
    Lemma 2.1.2, Adlam et al. 2022). Special cases: the primal mean for squared Euclidean and
    Mahalanobis; the normalised geometric mean :math:`\mathrm{softmax}(\mathbb E\log Y)` for KL
    (computed by a max-shifted log-sum-exp, MATH.md Eq. 42); :math:`\exp\mathbb E\log Y` for
    generalised KL; the harmonic mean for Itakura--Saito; :math:`\sigma(\mathbb E\,\mathrm{logit} Y)`
    for binary KL.

    Args:
        gen: the Bregman generator.
        ys: samples in the interior of the domain (strictly positive probabilities for the KL
            family: the dual map is infinite at the boundary).
        axis: the sample axis; must not be the vector axis.
        weights: optional non-negative weights, normalised internally.

    Returns:
        The dual mean, ``ys`` reduced over ``axis``.

    Raises:
        ValueError: empty, boundary or out-of-domain samples, bad axis or weights.

    Examples:
        >>> dual_mean(KL(), [[0.5, 0.5], [0.9, 0.1]]).round(4)
        array([0.75, 0.25])
    """
    gen = _check_generator(gen)
    y = gen.check(ys, "ys", interior=True)
    ax = _sample_axis(gen, y, axis, "dual_mean")
    w = normalize_weights(weights, y.shape[ax], owner="dual_mean")
    if gen.dual_is_primal:
        return _squeeze(_weighted_mean(y, w, ax))
    return _squeeze(gen._grad_conj(_weighted_mean(gen._grad(y), w, ax)))


@dataclass(frozen=True)
class BiasVariance:
    r"""Result of :func:`bias_variance`: ``total = bias + variance`` (exactly, up to rounding).

    Attributes:
        total: :math:`\mathbb E\,D(Y, z)` (first slot) or :math:`\mathbb E\,D(z, Y)` (second).
        bias: :math:`D(\mathbb E Y, z)` or :math:`D(z, \mathbb E^* Y)`.
        variance: :math:`\mathbb E\,D(Y, \mathbb E Y)` or :math:`\mathbb E\,D(\mathbb E^*Y, Y)`.
        center: the mean used (primal for the first slot, dual for the second).
        slot: which slot the random point occupies.
    """

    total: FloatArray | float
    bias: FloatArray | float
    variance: FloatArray | float
    center: FloatArray | float
    slot: Literal["first", "second"]

    @property
    def residual(self) -> FloatArray | float:
        """``total - (bias + variance)``; zero up to rounding when finite."""
        return _squeeze(np.asarray(self.total) - (np.asarray(self.bias) + np.asarray(self.variance)))


def bias_variance(
    gen: BregmanGenerator,
    ys: ArrayLike,
    z: ArrayLike,
    slot: Literal["first", "second"],
    weights: ArrayLike | None = None,
) -> BiasVariance:
    r"""Bregman bias--variance decomposition around a fixed point ``z``, Eqs. (2) and (3).

    .. math::

        \text{(2), slot="first":}\quad
        \mathbb E\,D(Y, z) = \mathbb E\,D(Y, \mathbb E Y) + D(\mathbb E Y, z),

        \text{(3), slot="second":}\quad
        \mathbb E\,D(z, Y) = D(z, \mathbb E^* Y) + \mathbb E\,D(\mathbb E^* Y, Y).

    Args:
        gen: the Bregman generator.
        ys: samples of :math:`Y` on axis 0, shape ``(n, ..., k)`` (scalar generators ``(n, ...)``).
        z: the fixed point, shape ``ys.shape[1:]``.
        slot: ``"first"`` (random point first, primal mean) or ``"second"`` (random point
            second, dual mean; needs interior samples).
        weights: optional weights of the ``n`` samples, normalised internally.

    Returns:
        :class:`BiasVariance` with arrays of shape ``ys.shape[1:-1]`` (floats for one point).
        With ``z`` on the boundary a term may be ``+inf`` (e.g. KL bias with :math:`z_j = 0`).

    Raises:
        ValueError: bad ``slot``, shapes, weights or out-of-domain values.

    Examples:
        >>> bv = bias_variance(SquaredEuclidean(), [[0.0], [2.0]], [3.0], "first")
        >>> (bv.total, bv.bias, bv.variance)
        (5.0, 4.0, 1.0)
    """
    gen = _check_generator(gen)
    if slot not in ("first", "second"):
        raise ValueError(f"`slot` of bias_variance must be one of 'first', 'second'. Got {slot!r} instead.")
    y = gen.check(ys, "ys", interior=(slot == "second"))
    zz = gen.check(z, "z")
    if y.ndim - gen.event_ndim < 1:
        raise ValueError(
            f"`ys` of bias_variance must have a sample axis 0 besides the vector axis. Got shape {y.shape} instead."
        )
    if zz.shape != y.shape[1:]:
        raise ValueError(
            f"`z` of bias_variance must have shape ys.shape[1:] = {y.shape[1:]}. Got {zz.shape} instead."
        )
    w = normalize_weights(weights, y.shape[0], owner="bias_variance")
    if slot == "first":
        center = _weighted_mean(y, w, 0)
        total = _weighted_mean(gen._divergence(y, zz[None]), w, 0)
        variance = _weighted_mean(gen._divergence(y, center[None]), w, 0)
        bias = gen._divergence(center, zz)
    else:
        center = (
            _weighted_mean(y, w, 0) if gen.dual_is_primal else gen._grad_conj(_weighted_mean(gen._grad(y), w, 0))
        )
        total = _weighted_mean(gen._divergence(zz[None], y), w, 0)
        variance = _weighted_mean(gen._divergence(center[None], y), w, 0)
        bias = gen._divergence(zz, center)
    return BiasVariance(
        total=_squeeze(total), bias=_squeeze(bias), variance=_squeeze(variance), center=_squeeze(center), slot=slot
    )


@dataclass(frozen=True)
class ThreePointIdentity:
    r"""Both sides of the three-point identity (Eq. 1) and their difference.

    Attributes:
        lhs: :math:`D(x, y)`.
        rhs: :math:`D(x, z) + D(z, y) - \langle x - z, \nabla\phi(y) - \nabla\phi(z)\rangle`.
        residual: ``lhs - rhs`` (zero up to rounding).
    """

    lhs: FloatArray | float
    rhs: FloatArray | float
    residual: FloatArray | float


def three_point_identity(
    gen: BregmanGenerator, x: ArrayLike, y: ArrayLike, z: ArrayLike
) -> ThreePointIdentity:
    r"""Generalised law of cosines (Chen & Teboulle 1993), Eq. (1):

    .. math::

        D(x, y) = D(x, z) + D(z, y) - \langle x - z,\; \nabla\phi(y) - \nabla\phi(z) \rangle .

    Args:
        gen: the Bregman generator.
        x: any point of the (closed) domain, shape ``(..., k)``.
        y: interior point (its dual coordinates must be finite), broadcastable against ``x``.
        z: interior point, broadcastable against ``x``.

    Returns:
        :class:`ThreePointIdentity` with both sides and the residual.

    Examples:
        >>> r = three_point_identity(SquaredEuclidean(), [1.0, 0.0], [0.0, 1.0], [0.5, 0.5])
        >>> (r.lhs, r.rhs)
        (2.0, 2.0)
    """
    gen = _check_generator(gen)
    xa = gen.check(x, "x")
    ya = gen.check(y, "y", interior=True)
    za = gen.check(z, "z", interior=True)
    gen._check_pair(xa, ya, "x", "y")
    gen._check_pair(xa, za, "x", "z")
    gen._check_pair(ya, za, "y", "z")
    lhs = gen._divergence(xa, ya)
    rhs = gen._divergence(xa, za) + gen._divergence(za, ya) - gen._inner(xa - za, gen._grad(ya) - gen._grad(za))
    return ThreePointIdentity(lhs=_squeeze(lhs), rhs=_squeeze(rhs), residual=_squeeze(lhs - rhs))
