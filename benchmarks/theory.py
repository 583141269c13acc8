"""Timing of the theory layer: the W2SG accounting, its CE form, the ridge sweep and the run bridge.

Prints one table: the median (and min) wall time over ``--repeats`` runs of

* ``account(KL(), ...)`` on 100 pairs x 10,000 inputs x 2 classes: Dirac groups (every pair its
  own posterior), 10 groups of 10 pairs sharing a student, and the product law (Theorem B.1);
* ``cross_entropy_accounting`` on the same law (Dirac and independent);
* ``w2sg.theory.ridge.sweep`` at d = 400 over 30 widths x 10 seeds (all ridge parameters at once),
  in the population limit and with n = 2d W2S inputs;
* ``theory_from_runs`` on a fabricated store of 10 runs x 10 seeds x 1,000 test ids.

Ratios compare each row with the reference named beside it. Run from the repository root::

    python benchmarks/theory.py              # everything, 3 repeats (4-7 minutes on 2 cores)
    python benchmarks/theory.py --skip-ridge  # the accounting and the bridge only (seconds)
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np


def _time(fn: Callable[[], object], repeats: int, *, warm_up: bool = True) -> list[float]:
    """Wall times of ``repeats`` calls, after one untimed call (first-touch allocation, imports)."""
    if warm_up:
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def _law(n_pairs: int, n_inputs: int, n_groups: int, seed: int = 0):
    """Teachers [P, N, 2], students [P, N, 2] (shared within groups), one-hot truth [N, 2], group ids."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n_inputs)
    sign = 2.0 * y - 1.0
    groups = np.repeat(np.arange(n_groups), n_pairs // n_groups)
    p_w = 1 / (1 + np.exp(-(0.6 * sign + rng.normal(0, 1, (n_pairs, n_inputs)))))
    p_s = 1 / (1 + np.exp(-(1.0 * sign + rng.normal(0, 1, (n_groups, n_inputs)))))[groups]
    two = lambda p: np.stack([1.0 - p, p], axis=-1)  # noqa: E731
    return two(p_w), two(p_s), two(y.astype(float)), groups


def _fabricate_store(root: Path, n_runs: int, n_seeds: int, n_ids: int) -> None:
    """Minimal finished runs (results.json + test predictions) sharing one test set."""
    import pandas as pd

    rng = np.random.default_rng(1)
    ids = [f"x{i:05d}" for i in range(n_ids)]
    y = rng.integers(0, 2, n_ids)
    for r in range(n_runs):
        run = root / "runs" / f"run{r:03d}"
        (run / "predictions").mkdir(parents=True)
        config = {"name": f"r{r}", "data": {"task": "toy", "fixed_test": True},
                  "weak": {"source": "weak"}, "strong": {"source": "strong"},
                  "teacher": {"n_teachers": 1, "smoothing": 1.0}, "objectives": [{"name": "ce", "params": {}}]}
        seeds = []
        for s in range(n_seeds):
            sign = 2.0 * y - 1.0
            cols = {"id": ids, "label": y,
                    "weak": 1 / (1 + np.exp(-(0.6 * sign + rng.normal(0, 1, n_ids)))),
                    "strong_ceiling": 1 / (1 + np.exp(-(1.5 * sign + rng.normal(0, 1, n_ids)))),
                    "ce": 1 / (1 + np.exp(-(1.0 * sign + rng.normal(0, 1, n_ids))))}
            pd.DataFrame(cols).to_csv(run / "predictions" / f"test_predictions_seed{s}.csv", index=False)
            seeds.append({"seed": s, "models": {"weak": {}, "strong_ceiling": {}, "ce": {}}})
        (run / "results.json").write_text(json.dumps({"config_hash": run.name, "config": config, "seeds": seeds}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats per row (median reported)")
    parser.add_argument("--skip-ridge", action="store_true", help="leave out the ridge sweeps (the slow rows)")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error(f"--repeats must be a positive int. Got {args.repeats} instead.")

    from w2sg.bregman import KL
    from w2sg.report.theory_bridge import theory_from_runs
    from w2sg.theory.accounting import account, cross_entropy_accounting

    rows: list[tuple[str, str, list[float], str | None]] = []  # (name, size, times, reference row)
    n_pairs, n_inputs = 100, 10_000
    teacher, student, truth, groups = _law(n_pairs, n_inputs, 10)
    _, student_dirac, _, _ = _law(n_pairs, n_inputs, n_pairs)
    size = f"{n_pairs} pairs x {n_inputs:,} inputs x 2"
    gen = KL()
    rows.append(("account KL, Dirac", size,
                 _time(lambda: account(gen, teacher, student_dirac, truth), args.repeats), None))
    rows.append(("account KL, 10 groups of 10", size,
                 _time(lambda: account(gen, teacher, student, truth, groups=groups), args.repeats),
                 "account KL, Dirac"))
    rows.append(("account KL, independent", size,
                 _time(lambda: account(gen, teacher, student_dirac, truth, independent=True), args.repeats),
                 "account KL, Dirac"))
    rows.append(("cross_entropy_accounting, Dirac", size,
                 _time(lambda: cross_entropy_accounting(teacher, student_dirac, truth), args.repeats),
                 "account KL, Dirac"))
    rows.append(("cross_entropy_accounting, independent", size,
                 _time(lambda: cross_entropy_accounting(teacher, student_dirac, truth, independent=True), args.repeats),
                 "account KL, independent"))

    with tempfile.TemporaryDirectory() as folder:
        _fabricate_store(Path(folder), n_runs=10, n_seeds=10, n_ids=1000)
        rows.append(("theory_from_runs (read CSVs + CE accounting)", "10 runs x 10 seeds x 1,000 ids",
                     _time(lambda: theory_from_runs(folder), args.repeats), None))

    if not args.skip_ridge:
        from w2sg.theory import ridge

        d = 400
        widths = np.unique(np.round(np.geomspace(d / 10, 4 * d, 30)).astype(int)).tolist()
        lams = np.geomspace(1e-3, 10.0, 20).tolist()
        ridge_size = f"d={d}, {len(widths)} widths (m {widths[0]}-{widths[-1]}) x 10 seeds x {len(lams)} lams"
        rows.append(("ridge.sweep, population (n=None)", ridge_size,
                     _time(lambda: ridge.sweep(d, widths, lams, 10), args.repeats, warm_up=False), None))
        rows.append(("ridge.sweep, n = 2d", ridge_size,
                     _time(lambda: ridge.sweep(d, widths, lams, 10, n=2 * d), args.repeats, warm_up=False),
                     "ridge.sweep, population (n=None)"))

    medians = {name: statistics.median(times) for name, _, times, _ in rows}
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"w2sg theory benchmarks (median of {args.repeats})")
    for column, justify in (("benchmark", "left"), ("size", "left"), ("median s", "right"), ("min s", "right"),
                            ("ratio", "right"), ("vs", "left")):
        table.add_column(column, justify=justify)
    for name, size_text, times, ref in rows:
        ratio = f"{medians[name] / medians[ref]:.2f}x" if ref else ""
        table.add_row(name, size_text, f"{medians[name]:.3f}", f"{min(times):.3f}", ratio, ref or "")
    Console(width=170).print(table)


if __name__ == "__main__":
    main()
