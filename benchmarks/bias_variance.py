"""Cost of a 20-pair bias-variance estimate (Algorithm 1) on the offline default, and what sharing saves.

Algorithm 1 (Yang et al. 2020; MATH.md 7.6) needs N disjoint subsets x k seeds of teacher -> student
pairs on one test set. Here N = 5, k = 4 (20 pairs, as the paper's Amazon Polarity setting) on the
offline default (MiniLM-L3 teacher -> MiniLM-L6 student on tweets, frozen features), with a CE and an
RCE student per pair (10 runs of 4 seeds). Three timings, measured in this one process:

* ``cold``: the sweep on an empty store (features computed, teachers trained once per
  (subset, seed) and shared by the CE and RCE runs);
* ``shared``: the same sweep again on a fresh stage store that shares only the feature cache, so
  each teacher is trained once and reused by the second objective;
* ``unshared``: every run on its own stage store (feature cache still shared), so each run retrains
  its teachers: what a tool without a content-addressed teacher cache pays;

then the estimate itself (``w2sg.estimators.bias_variance_ce`` on the 20 CE students).

Run from the repository root (needs the offline packages: ``bash scripts/setup.sh``)::

    python benchmarks/bias_variance.py
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np


def sweep_mapping(n_subsets: int, seeds: list[int]) -> dict:
    head = {"epochs": 300, "batch_size": 4096, "lr": 0.05, "weight_decay": 1e-3, "schedule": "constant"}
    return {
        "name": "bench-bias-variance",
        "seeds": seeds,
        "objectives": [{"name": "ce"}],
        "data": {"task": "tweets", "n_weak": 300, "n_w2s": 500, "n_test": 600, "max_length": 64,
                 "pool": 4800, "n_subsets": n_subsets},
        "weak": {"source": "offline:minilm-l3", "finetune": "features", "train": head},
        "strong": {"source": "offline:minilm-l6", "finetune": "features", "train": head},
        "runtime": {"progress": False},
        "sweep": {"name": "bench-bias-variance", "grid": {
            "data.subset": list(range(n_subsets)),
            "objectives": [[{"name": "ce"}], [{"name": "rce"}]],
        }},
    }


def count_teacher_stages(root: Path) -> int:
    import json

    count = 0
    for meta in (root / "stages").glob("model-*/meta.json"):
        if json.loads(meta.read_text()).get("role", "").startswith("weak teacher"):
            count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subsets", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=4)
    args = parser.parse_args()

    import logging

    from w2sg.commands import quiet_third_party_output
    from w2sg.estimators import bias_variance_ce

    quiet_third_party_output()
    logging.getLogger("w2sg").setLevel(logging.ERROR)  # the data loader's per-load summary
    from w2sg.store import Store
    from w2sg.sweep import load_sweep, run_sweep

    plan = load_sweep(sweep_mapping(args.subsets, list(range(args.seeds))))
    work = Path(tempfile.mkdtemp(prefix="w2sg-bench-bv-"))
    rows = []
    try:
        features = work / "features"

        def fresh_store(name: str) -> Store:
            root = work / name
            root.mkdir()
            if features.exists():
                (root / "features").symlink_to(features)
            return Store(root)

        cold = Store(work / "cold")
        start = time.perf_counter()
        run_sweep(plan, store=cold, progress=False)
        rows.append(("cold: features + shared teachers", time.perf_counter() - start, count_teacher_stages(cold.root)))
        shutil.move(str(cold.root / "features"), features)

        shared = fresh_store("shared")
        start = time.perf_counter()
        result = run_sweep(plan, store=shared, progress=False)
        rows.append(("shared teachers (features cached)", time.perf_counter() - start, count_teacher_stages(shared.root)))

        start = time.perf_counter()
        retrained = 0
        for i, point in enumerate(plan.points):
            store = fresh_store(f"unshared-{i}")
            run_sweep(load_sweep({**point.config.model_dump(mode="json")}), store=store, progress=False)
            retrained += count_teacher_stages(store.root)
        rows.append(("no teacher sharing (features cached)", time.perf_counter() - start, retrained))

        # The estimate: the 20 CE students' test probabilities on the shared test set.
        probs, labels = [], None
        import pandas as pd

        for point in plan.points:
            if point.config.objectives[0].name != "ce":
                continue
            for seed in point.config.seeds:
                frame = pd.read_csv(shared.run_dir(point.config_hash) / "predictions" / f"test_predictions_seed{seed}.csv")
                frame = frame.sort_values("id")
                probs.append(frame["ce"].to_numpy())
                labels = frame["label"].to_numpy()
        start = time.perf_counter()
        estimate = bias_variance_ce(np.stack(probs), labels, unbiased=True, n_subsets=args.subsets)
        estimate_time = time.perf_counter() - start
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"Algorithm 1 on the offline default: {args.subsets} subsets x {args.seeds} seeds = "
          f"{args.subsets * args.seeds} pairs, CE and RCE students ({len(plan.points)} runs)")
    print(f"{'what':40s} {'wall s':>8s} {'teachers trained':>17s} {'vs shared':>10s}")
    reference = rows[1][1]
    for name, seconds, teachers in rows:
        print(f"{name:40s} {seconds:8.1f} {teachers:17d} {seconds / reference:9.2f}x")
    print(f"{'bias-variance estimate (20 x 600)':40s} {estimate_time:8.4f}")
    print(f"risk {estimate.risk:.4f} = bias^2 {estimate.bias_squared:.4f} + variance {estimate.variance:.4f} "
          f"(unbiased N/(N-1) correction); plain: {len(probs)} students")
    _ = result


if __name__ == "__main__":
    main()
