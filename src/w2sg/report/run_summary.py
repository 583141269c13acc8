"""The one-figure summary of a single run, drawn by the pipeline beside ``results.json``."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

__all__ = ["plot_run_summary"]


def _entry(summary: dict[str, Any], label: str, metric: str) -> tuple[float, float]:
    value = (summary.get(label) or {}).get(metric)
    if not isinstance(value, dict) or value.get("mean") is None:
        return math.nan, math.nan
    se = value.get("standard_error")
    return float(value["mean"]), float(se) if se is not None and math.isfinite(float(se)) else 0.0


def plot_run_summary(results: dict[str, Any], path: str | Path) -> Path:
    r"""Bar chart of test accuracy (mean ± s.e. over seeds): weak floor, each student, strong ceiling.

    Each student's bar is annotated with its performance gap recovered,

    .. math::
        \mathrm{PGR} = \frac{\mathrm{acc}_{w2s} - \mathrm{acc}_{weak}}{\mathrm{acc}_{strong} - \mathrm{acc}_{weak}},

    as mean ± s.e. over seeds (``summary[label]["pgr"]``, computed by the pipeline).

    Args:
        results: a run's ``results.json`` content (needs ``summary`` and ``config``).
        path: the PNG to write (folders are created).

    Returns:
        ``path``.

    Raises:
        ValueError: ``results`` has no ``summary`` with the weak floor and strong ceiling.
    """
    from matplotlib.figure import Figure

    if not isinstance(results, dict) or not isinstance(results.get("summary"), dict):
        raise ValueError("`results` of plot_run_summary must be a results.json mapping with a `summary`.")
    summary = results["summary"]
    for needed in ("weak", "strong_ceiling"):
        if needed not in summary:
            raise ValueError(f"`results` of plot_run_summary: summary lacks {needed!r}. Got {sorted(summary)}.")
    config = results.get("config") or {}
    labels = ["weak", *[label for label in summary if label not in ("weak", "strong_ceiling")], "strong_ceiling"]
    names = ["weak floor", *labels[1:-1], "strong ceiling"]
    stats = [_entry(summary, label, "accuracy") for label in labels]
    means = [100 * m for m, _ in stats]
    errors = [100 * s for _, s in stats]
    colours = ["#9e9e9e"] + [{"ce": "#2ca02c", "rce": "#7b3fa0"}.get(l.split("(")[0], "#4c72b0") for l in labels[1:-1]]
    colours.append("#303030")

    fig = Figure(figsize=(max(5.0, 1.1 * len(labels) + 2), 4.0), layout="constrained")
    ax = fig.subplots()
    bars = ax.bar(range(len(labels)), means, yerr=errors, color=colours, capsize=4)
    for bar, label, err in zip(bars[1:-1], labels[1:-1], errors[1:-1]):
        pgr = (summary.get(label) or {}).get("pgr") or {}
        mean, se = pgr.get("mean"), pgr.get("standard_error")
        if mean is None or not math.isfinite(float(mean)):
            continue
        text = f"PGR {float(mean):.2f}"
        if se is not None and math.isfinite(float(se)):
            text += f" ± {float(se):.2f}"
        top = bar.get_height() + (err if math.isfinite(err) else 0.0)  # above the error bar
        ax.annotate(text, (bar.get_x() + bar.get_width() / 2, top), xytext=(0, 4),
                    textcoords="offset points", ha="center", fontsize=8)
    finite = [m for m in means if math.isfinite(m)]
    if finite:
        low, high = min(finite), max(finite)
        pad = max(2.0, (high - low) * 0.6)
        ax.set_ylim(max(0.0, low - pad), min(100.0, high + pad))
    ax.set_xticks(range(len(labels)), names, rotation=15)
    ax.set_ylabel("test accuracy (%)")
    ax.grid(alpha=0.3, axis="y")
    from w2sg.report.collect import display_model, display_task

    task = display_task((results.get("task") or {}).get("name") or config.get("data", {}).get("task", "?"))
    weak = display_model((config.get("weak") or {}).get("source", "?"))
    strong = display_model((config.get("strong") or {}).get("source", "?"))
    n_seeds = len(results.get("seeds") or [])
    ax.set_title(f"{task}: {weak} → {strong} ({n_seeds} seed{'s' if n_seeds != 1 else ''})", fontsize=10)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return path
