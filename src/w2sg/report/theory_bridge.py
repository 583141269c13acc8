r"""The bridge from finished runs to the theory: Theorem 3.1 and Corollary 5.1 measured on real runs.

Each finished run of the store (see :mod:`w2sg.pipeline`) saves, per seed, the test probabilities
of class 1 of the weak teacher (column ``weak``) and of one student per objective (the objective's
label), with the ground-truth label. :func:`theory_from_runs` turns them into the finite joint law
that :func:`~w2sg.theory.accounting.account` evaluates exactly:

* **Laws.** Runs are grouped by (task, weak source, strong source, objective label, smoothing,
  n_teachers); every other config difference (seeds, disjoint subsets, hyper-parameters) gives
  further realisations of the same law. With ``group_by="seed"`` each seed is a law of its own
  (its realisations are then the runs, e.g. the disjoint subsets of Algorithm 1).
* **Pairs.** Every (run, seed) gives one equally weighted realisation (pair): teacher
  :math:`F_w = [1-p_w, p_w]` and student :math:`F_s = [1-p_s, p_s]` on the simplex, with the KL
  generator :math:`\phi(p) = \sum_j p_j\log p_j`. The truth is one-hot, :math:`f^* = [1-y, y]`.
* **Inputs.** Pairs are aligned by example id (never row order) and restricted to the ids common to
  every pair of the law; the test input :math:`X` is uniform over them. Runs that do not share a
  test set (``data.fixed_test = false`` and ``data.n_subsets = 1``) share no ids and are an error.
* **Posterior.** Every pair is its own posterior group (a Dirac posterior :math:`P_{F_w|F_s}`):
  a run trains one student per teacher, so the store never holds several teachers of one and the
  same student, which is what a non-trivial posterior needs. With ``independent=True`` the law is
  replaced by the product of its marginals (Theorem B.1): every teacher meets every student.
* **Clipping.** Probabilities are clipped to :math:`[10^{-12}, 1-10^{-12}]` before use (the
  clipping of :func:`w2sg.metrics.cross_entropy`), so a saturated sigmoid (exactly 0 or 1 in
  float64) stays an interior point; ``n_clipped`` counts the clipped values. Every identity below
  holds for the clipped arrays.

What is exact and what is a bound. With one-hot truth, :math:`H(f^*) = 0`, so the forward KL risk
is the test cross-entropy, :math:`\mathcal R(F) = \mathbb E\,\mathrm{CE}(f^*, F)` (MATH.md 6.1).
On the sample, by construction and to rounding,

.. math::

    \underbrace{\mathcal R(F_w) - \mathcal R(F_s)}_{\text{observed gain}}
        = \underbrace{\mathbb E\,D(F_s, F_w)}_{\text{reverse misfit}}
        - \underbrace{\mathbb E\langle f^* - F_s, \nabla\bar F^*_w - \nabla F_s\rangle}_{\text{forward remainder}}
        \qquad\text{(Eq. 16, exact)},

and Corollary 5.1's CE form of it (exact with the remainder). The theory's prediction is a
*bound* (Theorem 3.1, Eq. 4; Cauchy--Schwarz on the remainder,
:math:`|\text{remainder}| \le \epsilon_1`):

.. math::

    \mathcal R(F_s) \le \mathcal R(F_w) - \mathbb E\,D(F_s, F_w) + \epsilon_1
    \quad\Longleftrightarrow\quad
    \text{observed gain} \ge \text{predicted gain} := \mathbb E\,D(F_s, F_w) - \epsilon_1 .

The reverse risks :math:`\mathcal R^r` are :math:`+\infty` for one-hot truth (documented in
:mod:`w2sg.theory.accounting`; the reverse gain is the smoothed-truth limit).

References:
    MATH.md 3 (risks and misfits), 4.2 (Theorem 3.1, Eq. 16), 4.4 (Theorem B.1), 6.1-6.3
    (Corollary 5.1, Proposition 1).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from w2sg.theory.accounting import Accounting, CrossEntropyAccounting, cross_entropy_accounting

__all__ = [
    "BRIDGE_TERMS",
    "MIN_COMMON_IDS",
    "BridgeResult",
    "bridge_frame",
    "results_json",
    "theory_from_runs",
    "write_bridge_tables",
]

GroupBy = Literal["none", "seed"]

#: Fewest test ids common to every pair of a law before the bridge refuses to compute.
MIN_COMMON_IDS = 20
#: Probabilities are clipped to [CLIP, 1 - CLIP], as w2sg.metrics.cross_entropy does.
CLIP = 1e-12

#: Bridge term -> (description, equation, "exact" or "bound"), for tables and the CLI.
BRIDGE_TERMS: dict[str, tuple[str, str, str]] = {
    "teacher_risk": ("R(Fw) = E CE(f*, Fw): teacher test CE", "Sec. 3, 6.1", "measured"),
    "student_risk": ("R(Fs) = E CE(f*, Fs): student test CE", "Sec. 3, 6.1", "measured"),
    "observed_gain": ("R(Fw) - R(Fs)", "Eq. (6)", "measured"),
    "reverse_misfit": ("E D(Fs, Fw) = E KL(Fs || Fw)", "Eq. (4)", "measured"),
    "forward_misfit": ("E D(Fw, Fs) = E KL(Fw || Fs)", "Eq. (5)", "measured"),
    "forward_remainder": ("E <f* - Fs, grad F*w_bar - grad Fs>", "Eq. (16)", "measured"),
    "epsilon_1": ("Cauchy-Schwarz bound on |forward_remainder|", "Thm 3.1 / B.1", "measured"),
    "exact_gain": ("reverse_misfit - forward_remainder", "Eq. (16)", "exact"),
    "identity_residual": ("observed_gain - exact_gain (0 to rounding)", "Eq. (16)", "exact"),
    "predicted_gain": ("reverse_misfit - eps1: lower bound of the gain", "Eq. (4)", "bound"),
    "student_risk_bound": ("R(Fw) - E D(Fs, Fw) + eps1 >= R(Fs)", "Eq. (4) / (19)", "bound"),
    "bound_slack": ("student_risk_bound - student_risk >= 0", "Eq. (4)", "bound"),
}


@dataclass(frozen=True)
class BridgeResult:
    r"""The accounting of one law of (teacher, student) realisations taken from finished runs.

    Attributes:
        task, weak, strong: the task name and the weak / strong model sources.
        objective: the student's objective label (``ce``, ``aux(warmup_frac=0.2)``, ...).
        smoothing: the teacher's label smoothing :math:`\alpha` (1 = none).
        n_teachers: teachers ensembled into the weak labels.
        seed: the seed of the law with ``group_by="seed"``, else ``None``.
        independent: whether the product law (Theorem B.1) was used.
        pairs: the (run hash, seed) of each realisation, in order.
        n_inputs: test ids common to every pair (the inputs of the law).
        n_dropped: ids of the largest test set that are not common to all pairs.
        n_clipped: probabilities clipped to :math:`[10^{-12}, 1-10^{-12}]`.
        accounting: the KL :class:`~w2sg.theory.accounting.Accounting`.
        cross_entropy: the Corollary 5.1 :class:`~w2sg.theory.accounting.CrossEntropyAccounting`.
    """

    task: str
    weak: str
    strong: str
    objective: str
    smoothing: float
    n_teachers: int
    seed: int | None
    independent: bool
    pairs: tuple[tuple[str, int], ...]
    n_inputs: int
    n_dropped: int
    n_clipped: int
    accounting: Accounting
    cross_entropy: CrossEntropyAccounting

    # -- measured -------------------------------------------------------------------------------
    @property
    def n_pairs(self) -> int:
        return len(self.pairs)

    @property
    def runs(self) -> tuple[str, ...]:
        """The distinct run hashes of the law, in order of first appearance."""
        return tuple(dict.fromkeys(run for run, _ in self.pairs))

    @property
    def teacher_risk(self) -> float:
        r""":math:`\mathcal R(F_w) = \mathbb E\,\mathrm{KL}(f^*\Vert F_w)
        = \mathbb E\,\mathrm{CE}(f^*, F_w)`, the teacher's test cross-entropy (one-hot truth)."""
        return self.accounting.teacher_risk

    @property
    def student_risk(self) -> float:
        r""":math:`\mathcal R(F_s)`, the student's test cross-entropy."""
        return self.accounting.student_risk

    @property
    def observed_gain(self) -> float:
        r""":math:`\mathcal R(F_w) - \mathcal R(F_s)`: positive when weak-to-strong generalization occurred."""
        return self.accounting.gain

    @property
    def reverse_misfit(self) -> float:
        r""":math:`\mathbb E\,\mathrm{KL}(F_s\Vert F_w)` (Eq. 4)."""
        return self.accounting.reverse_misfit

    @property
    def forward_misfit(self) -> float:
        r""":math:`\mathbb E\,\mathrm{KL}(F_w\Vert F_s)` (Eq. 5), the usual CE training misfit."""
        return self.accounting.forward_misfit

    @property
    def epsilon_1(self) -> float:
        r""":math:`\epsilon_1` (or :math:`\epsilon_3` when ``independent``)."""
        return self.accounting.epsilon_1

    @property
    def forward_remainder(self) -> float:
        r"""The exact remainder of Eq. (16), :math:`|\cdot| \le \epsilon_1`."""
        return self.accounting.forward_remainder

    # -- exact identity -------------------------------------------------------------------------
    @property
    def exact_gain(self) -> float:
        r"""Eq. (16): :math:`\mathbb E\,D(F_s,F_w) - \mathbb E\langle f^*-F_s, \nabla\bar F^*_w-\nabla F_s\rangle`,
        equal to :attr:`observed_gain` to rounding."""
        return self.reverse_misfit - self.forward_remainder

    @property
    def identity_residual(self) -> float:
        """:attr:`observed_gain` minus :attr:`exact_gain`: zero up to floating-point rounding."""
        return self.observed_gain - self.exact_gain

    # -- bounds ---------------------------------------------------------------------------------
    @property
    def predicted_gain(self) -> float:
        r"""Theorem 3.1's lower bound of the gain, :math:`\mathbb E\,D(F_s,F_w) - \epsilon_1` (Eq. 4)."""
        return self.reverse_misfit - self.epsilon_1

    @property
    def student_risk_bound(self) -> float:
        r"""Eq. (4): :math:`\mathcal R(F_w) - \mathbb E\,D(F_s,F_w) + \epsilon_1 \ge \mathcal R(F_s)`."""
        return self.accounting.forward_bound

    @property
    def bound_slack(self) -> float:
        """:attr:`student_risk_bound` minus :attr:`student_risk`: non-negative (Cauchy--Schwarz)."""
        return self.student_risk_bound - self.student_risk

    def summary(self) -> dict[str, Any]:
        """The identifying fields and the :data:`BRIDGE_TERMS`, as plain Python values."""
        out: dict[str, Any] = {
            "task": self.task,
            "weak": self.weak,
            "strong": self.strong,
            "objective": self.objective,
            "smoothing": self.smoothing,
            "n_teachers": self.n_teachers,
            "seed": self.seed,
            "independent": self.independent,
            "n_pairs": self.n_pairs,
            "n_runs": len(self.runs),
            "n_inputs": self.n_inputs,
            "n_dropped": self.n_dropped,
            "n_clipped": self.n_clipped,
        }
        out.update({name: float(getattr(self, name)) for name in BRIDGE_TERMS})
        out["w2sg_occurred"] = bool(self.accounting.w2sg_occurred)
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: :meth:`summary`, the pairs, the KL accounting and the CE terms.

        ``json.dumps`` writes the infinite reverse risks of one-hot truth as ``Infinity``, as in
        :meth:`w2sg.theory.accounting.Accounting.to_dict`.
        """
        ce = self.cross_entropy.to_dict()
        ce.pop("accounting")
        out = self.summary()
        out["pairs"] = [{"run": run, "seed": seed} for run, seed in self.pairs]
        out["accounting"] = self.accounting.to_dict()
        out["cross_entropy"] = ce
        return out


# ---------------------------------------------------------------------------------------------
# Reading and aligning predictions
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Pair:
    run: str
    seed: int
    source: str  # the predictions file, for messages
    ids: np.ndarray  # (n,) str
    labels: np.ndarray  # (n,) float 0/1
    teacher: np.ndarray  # (n,) probability of class 1
    student: np.ndarray  # (n,)


def _numbers(frame: Any, column: str, source: str) -> np.ndarray:
    """Column ``column`` as float64; a non-numeric cell is an error naming the file, row and field."""
    import pandas as pd

    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64)
    bad = np.isnan(values) & frame[column].notna().to_numpy()
    if bad.any():
        row = int(np.argmax(bad))
        raise ValueError(
            f"{source}: row {row}, field {column!r} must be a number. Got {frame[column].iloc[row]!r} instead."
        )
    return values


def _check_frame(frame: Any, source: str, columns: Sequence[str]) -> None:
    missing = [c for c in ("id", "label", *columns) if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{source}: test predictions must have the columns id, label, {', '.join(columns)}. "
            f"Missing: {', '.join(missing)}; found: {list(frame.columns)}."
        )
    ids = frame["id"].astype(str)
    dup = ids.duplicated().to_numpy()
    if dup.any():
        row = int(np.argmax(dup))
        raise ValueError(f"{source}: row {row}, field 'id': duplicate example id {ids.iloc[row]!r}.")
    labels = _numbers(frame, "label", source)
    bad = ~np.isin(labels, (0.0, 1.0))
    if bad.any():
        row = int(np.argmax(bad))
        raise ValueError(f"{source}: row {row}, field 'label' must be 0 or 1. Got {labels[row]!r} instead.")
    for column in columns:
        values = _numbers(frame, column, source)
        bad = ~(np.isfinite(values) & (values >= 0.0) & (values <= 1.0))
        if bad.any():
            row = int(np.argmax(bad))
            raise ValueError(
                f"{source}: row {row}, field {column!r} must be a probability in [0, 1]. Got {values[row]!r} instead."
            )


def _config_key(record: Any, objective: str) -> tuple[str, str, str, str, float, int]:
    cfg = record.config
    teacher = cfg.get("teacher", {})
    return (
        record.task,
        str(cfg.get("weak", {}).get("source", "")),
        str(cfg.get("strong", {}).get("source", "")),
        objective,
        float(teacher.get("smoothing", 1.0)),
        int(teacher.get("n_teachers", 1)),
    )


def _objective_matches(label: str, wanted: str | None) -> bool:
    return wanted is None or label == wanted or label.split("(")[0] == wanted


def _read_pairs(
    records: Sequence[Any], objective: str | None, group_by: GroupBy
) -> tuple[dict[tuple[Any, ...], list[_Pair]], set[str]]:
    """Laws (key -> pairs) of the finished runs, and every objective label seen."""
    laws: dict[tuple[Any, ...], list[_Pair]] = {}
    seen: set[str] = set()
    for record in records:
        labels = [lab for lab in record.labels if lab not in ("weak", "strong_ceiling")]
        seen.update(labels)
        chosen = [lab for lab in labels if _objective_matches(lab, objective)]
        if not chosen:
            continue
        for seed in record.seeds:
            frame = record.predictions(seed)
            source = f"run {record.run_hash} seed {seed} (test_predictions_seed{seed}.csv)"
            _check_frame(frame, source, ["weak", *chosen])
            ids = frame["id"].astype(str).to_numpy(dtype=str)
            y = np.asarray(frame["label"], dtype=np.float64)
            p_weak = np.asarray(frame["weak"], dtype=np.float64)
            for label in chosen:
                key = _config_key(record, label) + ((seed,) if group_by == "seed" else (None,))
                laws.setdefault(key, []).append(
                    _Pair(record.run_hash, int(seed), source, ids, y, p_weak,
                          np.asarray(frame[label], dtype=np.float64))
                )
    return laws, seen


def _align(pairs: Sequence[_Pair]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """(common ids, labels [N], teacher [P, N], student [P, N], n_dropped) aligned by id."""
    common = set(pairs[0].ids)
    for pair in pairs[1:]:
        common &= set(pair.ids)
    largest = max(len(pair.ids) for pair in pairs)
    if len(common) < MIN_COMMON_IDS:
        names = ", ".join(f"{p.run} (seed {p.seed}, {len(p.ids)} ids)" for p in pairs)
        raise ValueError(
            f"The runs {names} share only {len(common)} test example ids; the bridge needs at least "
            f"{MIN_COMMON_IDS} common ids to compare teachers and students on the same inputs. Rerun them "
            f"on one shared test set with `--set data.fixed_test=true` (or data.n_subsets > 1)."
        )
    ids = np.array(sorted(common))
    teacher = np.empty((len(pairs), ids.size))
    student = np.empty_like(teacher)
    labels = np.empty(ids.size)
    for k, pair in enumerate(pairs):
        # Alignment by id, never by row order: position of each common id in this pair's file.
        order = np.argsort(pair.ids, kind="stable")
        index = order[np.searchsorted(pair.ids, ids, sorter=order)]
        y = pair.labels[index]
        if k == 0:
            labels = y
        elif not np.array_equal(y, labels):
            j = int(np.argmax(y != labels))
            raise ValueError(
                f"{pair.source}: row {int(index[j])}, field 'label': example {str(ids[j])!r} has label {y[j]:g} "
                f"but {labels[j]:g} in {pairs[0].source}; runs of one law must share their test labels."
            )
        teacher[k], student[k] = pair.teacher[index], pair.student[index]
    return ids, labels, teacher, student, largest - ids.size


def _two_class(p: np.ndarray) -> np.ndarray:
    """Probabilities of class 1 (..., n) -> simplex rows (..., n, 2) = [1 - p, p], each entry clipped
    to [CLIP, 1 - CLIP].

    Clipping both entries (not p alone) keeps the small one at exactly CLIP when p is 0 or 1, as
    :func:`w2sg.metrics.cross_entropy` clips the probability of the true label; the row then sums
    to 1 within 1e-16, far inside the KL generator's tolerance.
    """
    return np.clip(np.stack([1.0 - p, p], axis=-1), CLIP, 1.0 - CLIP)


# ---------------------------------------------------------------------------------------------
# The bridge
# ---------------------------------------------------------------------------------------------


def theory_from_runs(
    root: str | Path,
    *,
    sweep: str | Path | None = None,
    objective: str | None = None,
    independent: bool = False,
    group_by: GroupBy = "none",
) -> list[BridgeResult]:
    r"""Theorem 3.1 / Corollary 5.1 evaluated on the teachers and students of finished runs.

    For each law (see the module docstring: runs grouped by task, weak and strong source, objective
    label, smoothing and number of teachers; per seed with ``group_by="seed"``), pair :math:`p` is
    one (run, seed), with :math:`F_{w,p}(x) = [1-p_w(x), p_w(x)]`,
    :math:`F_{s,p}(x) = [1-p_s(x), p_s(x)]` and :math:`f^*(x) = [1-y(x), y(x)]` on the common test
    ids, and every term of

    .. math::

        \mathcal R(F_s) = \mathcal R(F_w) - \mathbb E\,\mathrm{KL}(F_s\Vert F_w)
            + \mathbb E\langle f^*-F_s, \log\bar F^*_w - \log F_s\rangle
            \le \mathcal R(F_w) - \mathbb E\,\mathrm{KL}(F_s\Vert F_w) + \epsilon_1

    is computed by :func:`~w2sg.theory.accounting.cross_entropy_accounting` (equal weights, Dirac
    posterior per pair; product law with ``independent``).

    Args:
        root: the store root holding ``runs/`` (as for :func:`w2sg.report.collect.collect_runs`).
        sweep: only the runs of this sweep (name or manifest path); ``None`` reads every run.
        objective: only students of this objective, given by label (``aux(warmup_frac=0.2)``) or
            name (``aux``, every parameter setting); ``None`` keeps all.
        independent: use the product law of the marginals (Theorem B.1, Eqs. 19-20).
        group_by: ``"none"``: one law per config group over all its (run, seed) pairs;
            ``"seed"``: one law per config group and seed.

    Returns:
        One :class:`BridgeResult` per law, sorted by (task, weak, strong, objective, smoothing,
        n_teachers, seed).

    Raises:
        FileNotFoundError: no ``runs/`` under ``root``, no such sweep, or a run without its
            prediction files.
        ValueError: no finished run has a matching student; a prediction file is malformed (the
            message names the file, row and field); the pairs of a law share fewer than
            :data:`MIN_COMMON_IDS` test ids or disagree on a label.
        TypeError: ``independent`` is not a bool.

    References:
        MATH.md 4.2 (Eq. 16), 4.4 (Theorem B.1), 6.2 (Corollary 5.1).

    Examples:
        >>> theory_from_runs("runs-root", group_by="subset")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: `group_by` of theory_from_runs must be one of 'none', 'seed'. Got 'subset' instead.
    """
    if group_by not in ("none", "seed"):
        raise ValueError(f"`group_by` of theory_from_runs must be one of 'none', 'seed'. Got {group_by!r} instead.")
    if not isinstance(independent, (bool, np.bool_)):
        raise TypeError(f"`independent` of theory_from_runs must be a bool. Got {type(independent).__name__} instead.")
    if objective is not None and not isinstance(objective, str):
        raise TypeError(
            f"`objective` of theory_from_runs must be a str (an objective label or name) or None. "
            f"Got {type(objective).__name__} instead."
        )
    if objective == "":
        raise ValueError(
            f"`objective` of theory_from_runs must be an objective label or name such as 'ce'. "
            f"Got {objective!r} instead."
        )
    from w2sg.report.collect import collect_runs

    collection = collect_runs(root, sweep=sweep)
    laws, seen = _read_pairs(collection.runs, objective, group_by)
    if not laws:
        where = f"sweep {sweep!r} of {root}" if sweep is not None else str(root)
        if objective is None:
            raise ValueError(
                f"No finished run with a student under {where}. Skipped: {list(collection.skipped) or 'none'}."
            )
        raise ValueError(
            f"No finished run under {where} has a student with objective {objective!r}. "
            f"Objectives found: {sorted(seen) or 'none'}."
        )
    results = []
    for key in sorted(laws, key=lambda k: tuple((v is None, v) for v in k)):
        pairs = laws[key]
        task, weak, strong, label, smoothing, n_teachers, seed = key
        _, y, teacher, student, n_dropped = _align(pairs)
        raw = np.concatenate([teacher.ravel(), student.ravel()])
        n_clipped = int(np.count_nonzero((raw < CLIP) | (raw > 1.0 - CLIP)))
        # Saturated sigmoids are exactly 0 or 1 in float64; KL needs interior points (clip).
        truth = np.stack([1.0 - y, y], axis=-1)  # one-hot, on the boundary: allowed for the truth
        ce = cross_entropy_accounting(_two_class(teacher), _two_class(student), truth, independent=independent)
        results.append(
            BridgeResult(
                task=task,
                weak=weak,
                strong=strong,
                objective=label,
                smoothing=smoothing,
                n_teachers=n_teachers,
                seed=seed,
                independent=bool(independent),
                pairs=tuple((p.run, p.seed) for p in pairs),
                n_inputs=int(y.size),
                n_dropped=int(n_dropped),
                n_clipped=n_clipped,
                accounting=ce.accounting,
                cross_entropy=ce,
            )
        )
    return results


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------


def bridge_frame(results: Iterable[BridgeResult]):
    """One row per law: :meth:`BridgeResult.summary`, then every accounting term (prefix
    ``acc.``) and every Corollary 5.1 term (prefix ``ce.``), as a :class:`pandas.DataFrame`."""
    import pandas as pd

    rows = []
    for result in results:
        row = result.summary()
        row.update({f"acc.{k}": v for k, v in result.accounting.to_dict().items()})
        ce = result.cross_entropy.to_dict()
        ce.pop("accounting")
        row.update({f"ce.{k}": v for k, v in ce.items()})
        row["runs"] = " ".join(result.runs)
        rows.append(row)
    return pd.DataFrame(rows)


def _md(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return f"{value:.4g}"
    return str(value).replace("|", "\\|")


_MD_COLUMNS = (
    ("task", "task"),
    ("weak", "weak"),
    ("strong", "strong"),
    ("objective", "objective"),
    ("smoothing", "α"),
    ("n_teachers", "teachers"),
    ("seed", "seed"),
    ("n_pairs", "pairs"),
    ("n_inputs", "inputs"),
    ("teacher_risk", "R(Fw)"),
    ("student_risk", "R(Fs)"),
    ("observed_gain", "gain"),
    ("reverse_misfit", "E KL(Fs‖Fw)"),
    ("epsilon_1", "ε1"),
    ("predicted_gain", "gain ≥ (Eq. 4)"),
    ("forward_remainder", "remainder"),
    ("identity_residual", "Eq. 16 residual"),
    ("student_risk_bound", "R(Fs) ≤"),
)


def write_bridge_tables(
    results: Sequence[BridgeResult], directory: str | Path, *, stem: str = "theory_runs"
) -> tuple[Path, Path]:
    """Write ``<stem>.csv`` (every term, see :func:`bridge_frame`) and ``<stem>.md`` (a summary row
    per law, with a note on which columns are exact and which are bounds) into ``directory``.

    Args:
        results: the output of :func:`theory_from_runs`.
        directory: the output folder (created if missing).
        stem: the file name without suffix, letters, digits, ``-``, ``_`` or ``.``.

    Returns:
        The paths of the CSV and the Markdown file.

    Raises:
        ValueError: ``results`` is empty or ``stem`` is not a plain file name.
        TypeError: an element of ``results`` is not a :class:`BridgeResult`.
    """
    results = list(results)
    if not results:
        raise ValueError("`results` of write_bridge_tables must hold at least one BridgeResult. Got none.")
    for i, r in enumerate(results):
        if not isinstance(r, BridgeResult):
            raise TypeError(
                f"`results` of write_bridge_tables must hold BridgeResult objects. Item {i} is {type(r).__name__}."
            )
    if not stem or any(not (c.isalnum() or c in "-_.") for c in stem):
        raise ValueError(
            f"`stem` of write_bridge_tables must be a plain file name (letters, digits, -_.). Got {stem!r}."
        )
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    csv_path, md_path = folder / f"{stem}.csv", folder / f"{stem}.md"
    bridge_frame(results).to_csv(csv_path, index=False)
    lines = [
        "| " + " | ".join(title for _, title in _MD_COLUMNS) + " |",
        "|" + "|".join("---" for _ in _MD_COLUMNS) + "|",
    ]
    for result in results:
        summary = result.summary()
        lines.append("| " + " | ".join(_md(summary[name]) for name, _ in _MD_COLUMNS) + " |")
    kind = "the product law of Theorem B.1 (ε1 is ε3)" if results[0].independent else "the joint law, Dirac posterior"
    lines += [
        "",
        f"Risks are test cross-entropies in nats (forward KL with one-hot truth), over {kind}. "
        "Exact on the sample: gain = E KL(Fs‖Fw) − remainder (Eq. 16; the residual is rounding). "
        "Bounds: gain ≥ E KL(Fs‖Fw) − ε1 and R(Fs) ≤ R(Fw) − E KL(Fs‖Fw) + ε1 (Theorem 3.1, Eq. 4).",
        "",
    ]
    md_path.write_text("\n".join(lines), encoding="utf-8")
    return csv_path, md_path


def results_json(results: Sequence[BridgeResult]) -> str:
    """The results as a JSON array of :meth:`BridgeResult.to_dict` (``Infinity`` for infinite terms)."""
    return json.dumps([r.to_dict() for r in results], indent=2)
