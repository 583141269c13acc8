r"""The paper's Figures 1-6 from the run store, and :func:`make_report` (tables plus figures).

Every figure function takes a :class:`~w2sg.report.collect.RunCollection` and an output folder and
returns the paths it wrote (PNG and PDF by default, plus a CSV of the plotted numbers), or a
sentence saying which runs it needs when they are missing. Matplotlib is used through its
object API on the Agg canvas (no pyplot state, no display). Colours follow the paper: CE green,
RCE purple.

=========  ===============================================================================
Fig. 1     test CE, bias² and variance of the student vs student size (Eq. 41, Algorithm 1);
           solid: one teacher, dashed: dual-mean ensemble of teachers (Eq. 42)
Figs. 2/3  accuracy and parameter distance (§7.7) vs the label smoothing factor α (§7.9),
           CE vs RCE, one column per task
Fig. 4     gradient norm and GDV (Eq. 43) over training steps, CE vs RCE
Fig. 5     CE vs RCE vs KL vs RKL accuracy vs α
Fig. 6     knowledge distillation (larger weak model): low-confidence accuracy, GDV, distance
=========  ===============================================================================
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path


import numpy as np

from w2sg.report.collect import RunCollection, display_model, display_task, model_parameters

__all__ = [
    "ReportSummary",
    "figure1_bias_variance",
    "figure4_gradients",
    "figure6_distillation",
    "figure_smoothing",
    "make_report",
]

COLOURS = {
    "ce": "#2ca02c",  # green, as the paper
    "rce": "#7b3fa0",  # purple, as the paper
    "kl": "#1f77b4",
    "rkl": "#ff7f0e",
    "aux": "#8c564b",
    "cace": "#e377c2",
    "sl": "#7f7f7f",
}
# The paper's tasks per figure, each followed by its offline stand-in (configs/small): tweets for the
# classification sets, the paper's own HH-RLHF splits (helpful, harmless) for HH-RLHF and CAI-Harmless.
PAPER_TASKS = {
    1: ("amazon_polarity", "twitter_sentiment", "tweets"),
    2: ("amazon_polarity", "hh_rlhf", "tweets", "hh-helpful"),
    3: ("sciq", "cai_harmless", "hh-harmless"),
    5: ("cai_harmless", "hh_rlhf", "hh-harmless", "hh-helpful"),
}
_MARKERS = ("o", "s", "^", "D", "v", "P", "X")


def _figure(n_rows: int, n_cols: int, *, width: float = 4.2, height: float = 3.3):
    from matplotlib.figure import Figure

    # At least 7.5 inches wide, so a one-column figure still fits its title.
    fig = Figure(figsize=(max(width * n_cols, 7.5), height * n_rows), layout="constrained")
    axes = fig.subplots(n_rows, n_cols, squeeze=False)
    return fig, axes


def _check_formats(formats: Sequence[str]) -> tuple[str, ...]:
    allowed = ("png", "pdf", "svg")
    out = tuple(str(f).strip().lower().lstrip(".") for f in formats if str(f).strip())
    bad = [f for f in out if f not in allowed]
    if not out or bad:
        raise ValueError(f"`formats` must be a non-empty subset of {allowed}. Got {list(formats)} instead.")
    return out


def _save(fig, out_dir: Path, stem: str, formats: Sequence[str], table=None) -> list[Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in _check_formats(formats):
        path = out_dir / f"{stem}.{fmt}"
        fig.savefig(path, dpi=150 if fmt == "png" else None)
        paths.append(path)
    if table is not None and len(table):
        path = out_dir / f"{stem}.csv"
        table.to_csv(path, index=False)
        paths.append(path)
    return paths


def _students(collection: RunCollection, *, distillation: bool = False):
    frame = collection.frame
    if frame.empty:
        return frame
    return frame[(frame["role"] == "student") & (frame["distillation"] == distillation)]


def _pick_tasks(available: Sequence[str], requested: Sequence[str] | None, number: int | None) -> list[str]:
    available = list(dict.fromkeys(available))
    if requested is not None:
        wanted = {t.lower().replace("-", "_") for t in requested}
        return [t for t in available if t.lower().replace("-", "_") in wanted]
    return available


def _mean_se(values: np.ndarray) -> tuple[float, float]:
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return math.nan, math.nan
    se = float(values.std(ddof=1) / math.sqrt(values.size)) if values.size > 1 else 0.0
    return float(values.mean()), se


def _model_order(sources: Sequence[str]) -> list[str]:
    """Distinct sources ordered by parameter count when every one is known, else first appearance."""
    distinct = list(dict.fromkeys(sources))
    sizes = [model_parameters(s) for s in distinct]
    if all(s is not None for s in sizes):
        return [s for _, s in sorted(zip(sizes, distinct), key=lambda t: t[0])]
    return distinct


# -------------------------------------------------------------------------------------------------
# Fig. 1


def bias_variance_points(collection: RunCollection, *, objective: str = "ce", unbiased: bool = True):
    """The numbers behind Fig. 1: one decomposition per (task, weak, strong, single/ensemble).

    Runs with ``data.n_subsets >= 2`` that differ only by ``data.subset`` and seed give the
    ``M = N x k`` teacher -> student pairs;
    their test predictions are aligned by example id on the test items all of them share.

    Returns:
        A DataFrame with task, weak, strong, ensemble, n_teachers, n_subsets, n_pairs, n_test,
        risk, bias_squared, variance, unbiased; and a list of notes on groups that were skipped.
    """
    import pandas as pd

    from w2sg.estimators import bias_variance_ce

    students = _students(collection)
    # Algorithm 1 proper: pairs come from disjoint subsets (x seeds) scored on one shared test set.
    # Runs with a single subset resample their test set per seed and are not bias-variance data.
    students = students[(students["objective"] == objective) & (students["smoothing"] == 1.0)
                        & (~students["hard_labels"].astype(bool)) & (students["n_subsets"] >= 2)]
    rows, notes = [], []
    keys = ["task", "weak", "strong", "n_teachers", "ensemble", "n_subsets"]
    for key, group in students.groupby(keys, sort=False):
        task, weak, strong, n_teachers, ensemble, _ = key
        label = objective if (group["model"] == objective).any() else sorted(group["model"])[0]
        group = group[group["model"] == label].drop_duplicates(["subset", "seed"])
        columns, labels_by_id = [], None
        for _, r in group.iterrows():
            try:
                pred = collection.run(r["run"]).predictions(int(r["seed"]))
            except (FileNotFoundError, KeyError) as err:
                notes.append(f"{task} {display_model(strong)}: {err}")
                continue
            if label not in pred.columns:
                continue
            series = pred.set_index("id")
            columns.append(series[label].astype(float))
            labels_by_id = series["label"] if labels_by_id is None else labels_by_id
        if len(columns) < 2:
            notes.append(
                f"{display_task(task)} {display_model(weak)} → {display_model(strong)} "
                f"({'ensemble' if n_teachers > 1 else 'single teacher'}): {len(columns)} teacher→student pair(s); "
                "needs >= 2 (runs over data.subset and seeds)"
            )
            continue
        common = columns[0].index
        for col in columns[1:]:
            common = common.intersection(col.index)
        if len(common) == 0:
            notes.append(f"{display_task(task)} {display_model(strong)}: the pairs share no test item "
                         "(use data.n_subsets > 1 so every pair is scored on one test set)")
            continue
        probs = np.stack([c.loc[common].to_numpy() for c in columns])
        labels = labels_by_id.loc[common].to_numpy().astype(float)
        n_subsets = int(group["subset"].nunique())
        use_unbiased = unbiased and n_subsets >= 2 and probs.shape[0] % n_subsets == 0
        bv = bias_variance_ce(probs, labels, unbiased=use_unbiased, n_subsets=n_subsets if use_unbiased else None)
        rows.append({
            "task": task, "weak": weak, "strong": strong, "ensemble": bool(n_teachers > 1),
            "n_teachers": int(n_teachers), "n_subsets": n_subsets, "n_pairs": int(probs.shape[0]),
            "n_test": int(len(common)), "risk": bv.risk, "bias_squared": bv.bias_squared,
            "variance": bv.variance, "unbiased": use_unbiased,
        })
    points = pd.DataFrame(rows)
    if len(points):  # one point per model and supervision: the design with the most pairs
        points = (points.sort_values("n_pairs", ascending=False, kind="stable")
                  .drop_duplicates(["task", "weak", "strong", "ensemble"]).sort_index().reset_index(drop=True))
    return points, notes


def figure1_bias_variance(
    collection: RunCollection,
    out_dir: str | Path,
    *,
    tasks: Sequence[str] | None = None,
    objective: str = "ce",
    unbiased: bool = True,
    formats: Sequence[str] = ("png", "pdf"),
) -> list[Path] | str:
    r"""Fig. 1: student test CE, bias² and variance vs student size (Eq. 41, Algorithm 1).

    .. math::
        \widehat{\mathcal R} = \widehat{\mathrm{Bias}}{}^2 + \widehat{\mathrm{Var}},\qquad
        \bar\pi = \operatorname{softmax}\big(\tfrac{1}{Nk}\textstyle\sum_{ij}\log\pi_{ij}\big)

    Solid lines: one teacher (``teacher.n_teachers == 1``); dashed: an ensemble (``> 1``). The
    variance carries Yang's ``N/(N-1)`` factor when ``unbiased`` and there are ``N >= 2`` subsets.

    Returns:
        Paths written (figure files and ``figure1_bias_variance.csv``), or the reason it was not drawn.
    """
    formats = _check_formats(formats)
    points, notes = bias_variance_points(collection, objective=objective, unbiased=unbiased)
    if points.empty:
        detail = "; ".join(notes[:4]) if notes else f"no {objective.upper()} students with standard supervision"
        return (f"Fig. 1 needs >= 2 teacher→student pairs ({objective.upper()} students of runs differing by "
                f"data.subset and seed) on a common test set: {detail}")
    chosen = _pick_tasks(points["task"], tasks, 1)
    if not chosen:
        have = sorted(set(points["task"]))
        return f"Fig. 1: none of the tasks {list(tasks or [])} has bias-variance runs (have: {have})"
    points = points[points["task"].isin(chosen)]
    fig, axes = _figure(1, len(chosen), width=6.4 if len(chosen) == 1 else 4.8)
    quantities = (
        ("risk", "test CE", "#d62728"), ("bias_squared", "bias²", "#1f77b4"), ("variance", "variance", "#ff7f0e")
    )
    for ax, task in zip(axes[0], chosen):
        sub = points[points["task"] == task]
        order = _model_order(list(sub["strong"]))
        several_weak = sub["weak"].nunique() > 1
        for (weak, ensemble), line in sub.groupby(["weak", "ensemble"], sort=False):
            line = line.set_index("strong").reindex([s for s in order if s in set(line["strong"])])
            x = [order.index(s) for s in line.index]
            style = "--" if ensemble else "-"
            kind = f"ensemble of {int(line['n_teachers'].iloc[0])}" if ensemble else "single teacher"
            suffix = f", teacher {display_model(weak)}" if several_weak else ""
            for column, name, colour in quantities:
                ax.plot(x, line[column], style, marker="o", color=colour, label=f"{name} ({kind}{suffix})")
        ax.set_xticks(range(len(order)), [display_model(s) for s in order])
        ax.set_xlabel("strong student")
        ax.set_ylabel("nats per test example")
        ax.set_title(display_task(task))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("Fig. 1: bias–variance of weak-to-strong generalization vs student size")
    return _save(fig, Path(out_dir), "figure1_bias_variance", formats, points)


# -------------------------------------------------------------------------------------------------
# Figs. 2, 3 and 5


def figure_smoothing(
    collection: RunCollection,
    out_dir: str | Path,
    *,
    number: int = 2,
    tasks: Sequence[str] | None = None,
    prefer: Sequence[str] | None = None,
    objectives: Sequence[str] = ("ce", "rce"),
    distance: bool = True,
    formats: Sequence[str] = ("png", "pdf"),
) -> list[Path] | str:
    r"""Figs. 2, 3 and 5: test accuracy (and parameter distance) vs the smoothing factor α.

    Labels are smoothed as :math:`y \mapsto \alpha y + (1-\alpha)/2` (Prop. 2, MATH.md §7.9;
    ``teacher.smoothing``). The top row is accuracy (mean ± s.e. over seeds), the bottom row (when
    ``distance``) the final :math:`\lVert\theta_T - \theta_0\rVert_2` of each student (§7.7). One
    column per task; Figs. 2 and 3 differ only in ``tasks``, Fig. 5 uses CE, RCE, KL and RKL
    without the distance row.

    Args:
        tasks: draw exactly these tasks (those with a smoothing sweep); None draws every such task,
            or only those in ``prefer`` when any of them has one.

    Returns:
        Paths written, or the reason it was not drawn.
    """
    formats = _check_formats(formats)
    if number not in (2, 3, 5):
        raise ValueError(f"`number` of figure_smoothing must be 2, 3 or 5. Got {number!r} instead.")
    wanted = [o.lower() for o in objectives]
    students = _students(collection)
    if len(students):
        students = students[students["objective"].isin(wanted) & (students["n_teachers"] == 1)
                            & (~students["hard_labels"].astype(bool))]
        plain = students[students["n_subsets"] == 1]
        students = plain if len(plain) else students[students["subset"] == 0]
        # Only (task, pair) lines that actually sweep the smoothing factor.
        swept = students.groupby(["task", "pair"])["smoothing"].transform("nunique") >= 2
        students = students[swept]
    usable = list(dict.fromkeys(students["task"])) if len(students) else []
    chosen = _pick_tasks(usable, tasks, number)
    if tasks is None and prefer is not None:
        chosen = _pick_tasks(usable, prefer, number) or chosen
    names = "/".join(o.upper() for o in wanted)
    if not chosen:
        need = f" among tasks {list(tasks)}" if tasks is not None else ""
        return (f"Fig. {number} needs {names} students at >= 2 values of teacher.smoothing for one task{need}; "
                f"tasks with such runs: {usable or 'none'}")
    data = students[students["task"].isin(chosen)].drop_duplicates(["task", "pair", "smoothing", "model", "seed"])
    n_rows = 2 if distance else 1
    fig, axes = _figure(n_rows, len(chosen))
    table = []
    for col, task in enumerate(chosen):
        sub = data[data["task"] == task]
        pairs = list(dict.fromkeys(sub["pair"]))
        for (pair, label), line in sub.groupby(["pair", "model"], sort=False):
            name = str(line["objective"].iloc[0])
            stats = []
            for alpha, at in line.groupby("smoothing"):
                acc, acc_se = _mean_se(at["accuracy"].to_numpy() * 100)
                dist, dist_se = _mean_se(at["final_param_distance"].to_numpy())
                stats.append((alpha, acc, acc_se, dist, dist_se))
                table.append({"task": task, "pair": pair, "model": label, "smoothing": alpha, "accuracy": acc,
                              "accuracy_se": acc_se, "param_distance": dist, "param_distance_se": dist_se,
                              "n_seeds": int(len(at))})
            s = np.array(stats, dtype=float)
            marker = _MARKERS[pairs.index(pair) % len(_MARKERS)]
            text = label.upper() if label == name else label
            text += f" ({pair})" if len(pairs) > 1 else ""
            colour = COLOURS.get(name)
            axes[0][col].errorbar(s[:, 0], s[:, 1], yerr=s[:, 2], marker=marker, color=colour, label=text, capsize=3)
            if distance and np.isfinite(s[:, 3]).any():
                axes[1][col].errorbar(s[:, 0], s[:, 3], yerr=s[:, 4], marker=marker, color=colour,
                                      label=f"{text} distance", capsize=3)
        axes[0][col].set_title(display_task(task) + (f": {pairs[0]}" if len(pairs) == 1 else ""))
        axes[0][col].set_ylabel("test accuracy (%)")
        axes[0][col].legend(fontsize=7)
        if distance:
            ax = axes[1][col]
            if not ax.lines:
                ax.text(0.5, 0.5, "no parameter distance recorded\n(runtime.record)", ha="center", va="center",
                        transform=ax.transAxes)
            else:
                ax.legend(fontsize=7)
            ax.set_ylabel(r"$\|\theta_T-\theta_0\|_2$")
        for row in range(n_rows):
            axes[row][col].set_xlabel(r"smoothing factor $\alpha$ (1 = none, 0 = uniform labels)")
            axes[row][col].grid(alpha=0.3)
    fig.suptitle(f"Fig. {number}: {' vs '.join(o.upper() for o in wanted)} under label smoothing")
    import pandas as pd

    return _save(fig, Path(out_dir), f"figure{number}_smoothing", formats, pd.DataFrame(table))


# -------------------------------------------------------------------------------------------------
# Fig. 4


def _mean_curve(collection: RunCollection, run: str, seeds: Sequence[int], label: str, column: str):
    """Mean and s.e. over seeds of one curve column, indexed by step (or epoch); None if absent."""
    frames = []
    for seed in seeds:
        curve = collection.run(run).curve(int(seed), label)
        if column in curve and curve[column].notna().any():
            x = "step" if "step" in curve else "epoch" if "epoch" in curve else None
            series = curve.set_index(x)[column] if x else curve[column]
            frames.append(series.astype(float).groupby(level=0).mean())
    if not frames:
        return None
    import pandas as pd

    joined = pd.concat(frames, axis=1)
    return joined.mean(axis=1, skipna=True), joined.std(axis=1, ddof=1) / np.sqrt(joined.notna().sum(axis=1))


def figure4_gradients(
    collection: RunCollection,
    out_dir: str | Path,
    *,
    tasks: Sequence[str] | None = None,
    objectives: Sequence[str] = ("ce", "rce"),
    formats: Sequence[str] = ("png", "pdf"),
) -> list[Path] | str:
    r"""Fig. 4: gradient norm and GDV over training steps, CE vs RCE.

    .. math::
        \lVert\nabla\theta\rVert_2 = \Big(\sum_{\text{params}}\lVert\nabla\theta\rVert_F^2\Big)^{1/2},\qquad
        \mathrm{GDV}(G) = \frac{2}{|G|(|G|-1)}\sum_{i<j}\tfrac12\Big(1-\cos(g_i, g_j)\Big)

    (MATH.md §7.7 and Eq. 43.) Per task, the first run without smoothing whose curves hold
    ``grad_norm`` or ``gdv`` is drawn; the line is the mean over its seeds, the band ± s.e.

    Returns:
        Paths written, or the reason it was not drawn.
    """
    formats = _check_formats(formats)
    wanted = [o.lower() for o in objectives]
    students = _students(collection)
    if len(students):
        students = students[students["objective"].isin(wanted)]
        students = students[students["mean_grad_norm"].notna() | students["mean_gdv"].notna()]
        preferred = students[students["smoothing"] == 1.0]
        students = preferred if len(preferred) else students
    chosen = _pick_tasks(list(students["task"]) if len(students) else [], tasks, 4)
    if not chosen:
        return ("Fig. 4 needs fine-tuned " + "/".join(o.upper() for o in wanted) + " students whose curves record "
                "grad_norm or gdv (runtime.record; frozen-feature runs record only the loss)")
    fig, axes = _figure(2, len(chosen))
    for col, task in enumerate(chosen):
        sub = students[students["task"] == task]
        run = sub["run"].iloc[0]
        sub = sub[sub["run"] == run]
        for label, rows in sub.groupby("model", sort=False):
            name = str(rows["objective"].iloc[0])
            for row, column in enumerate(("grad_norm", "gdv")):
                curve = _mean_curve(collection, run, sorted(rows["seed"].unique()), label, column)
                if curve is None:
                    continue
                mean, se = curve
                ax = axes[row][col]
                ax.set_xlabel("optimiser step" if mean.index.name == "step" else str(mean.index.name or "record"))
                ax.plot(mean.index, mean.to_numpy(), color=COLOURS.get(name), label=label.upper())
                ax.fill_between(mean.index, (mean - se.fillna(0)).to_numpy(), (mean + se.fillna(0)).to_numpy(),
                                color=COLOURS.get(name), alpha=0.2)
        pair = sub["pair"].iloc[0]
        axes[0][col].set_title(f"{display_task(task)}: {pair}")
        axes[0][col].set_ylabel("gradient norm")
        axes[1][col].set_ylabel("GDV (Eq. 43)")
        for row in range(2):
            ax = axes[row][col]
            ax.grid(alpha=0.3)
            if ax.lines:
                ax.legend(fontsize=7)
            else:
                ax.text(0.5, 0.5, "not recorded", ha="center", va="center", transform=ax.transAxes)
    fig.suptitle("Fig. 4: gradient norm and gradient direction variance during W2S training")
    return _save(fig, Path(out_dir), "figure4_gradients", formats)


# -------------------------------------------------------------------------------------------------
# Fig. 6


def figure6_distillation(
    collection: RunCollection,
    out_dir: str | Path,
    *,
    distillation: bool | Sequence[str] = True,
    formats: Sequence[str] = ("png", "pdf"),
) -> list[Path] | str:
    """Fig. 6: knowledge distillation (the weak teacher is the larger model).

    Bars per objective and pair (mean ± s.e. over seeds): accuracy on the test items the teacher
    is least sure of (``accuracy_low_confidence``, ``low_confidence_quantile`` of the config), mean
    GDV over training, and the final parameter distance.

    Args:
        distillation: ``True`` selects runs whose config name has a ``kd`` token (or ``distill``) or
            whose weak model is larger than the strong one; a sequence selects those run hashes or
            config names explicitly.

    Returns:
        Paths written, or the reason it was not drawn.
    """
    formats = _check_formats(formats)
    frame = collection.frame
    if frame.empty:
        return "Fig. 6 needs knowledge-distillation runs; there are no finished runs"
    if isinstance(distillation, bool):
        if not distillation:
            return "Fig. 6 was not requested (distillation=False)"
        selected = frame[frame["distillation"]]
        how = "config name containing 'kd', or a weak model larger than the strong one"
    else:
        if isinstance(distillation, str):
            raise TypeError("`distillation` of figure6_distillation must be a bool or a list of run hashes/names.")
        wanted = set(distillation)
        selected = frame[frame["run"].isin(wanted) | frame["name"].isin(wanted)]
        how = f"runs {sorted(wanted)}"
    students = selected[selected["role"] == "student"].drop_duplicates(["pair", "model", "seed"])
    if students.empty:
        return f"Fig. 6 needs knowledge-distillation runs ({how}); none found"
    pairs = list(dict.fromkeys(students["pair"]))
    labels = list(dict.fromkeys(students["model"]))
    panels = (("accuracy_low_confidence", "low-confidence accuracy (%)", 100.0),
              ("mean_gdv", "GDV (mean over training)", 1.0),
              ("final_param_distance", r"$\|\theta_T-\theta_0\|_2$", 1.0))
    fig, axes = _figure(1, len(panels), width=4.6)
    width = 0.8 / max(len(labels), 1)
    table = []
    for ax, (column, title, scale) in zip(axes[0], panels):
        drawn = False
        for j, label in enumerate(labels):
            name = str(students.loc[students["model"] == label, "objective"].iloc[0])
            means, ses = [], []
            for pair in pairs:
                vals = students[(students["pair"] == pair) & (students["model"] == label)][column].to_numpy() * scale
                m, s = _mean_se(vals)
                means.append(m)
                ses.append(s)
                table.append({"pair": pair, "model": label, "metric": column, "mean": m, "standard_error": s})
            if np.isfinite(means).any():
                drawn = True
                x = np.arange(len(pairs)) + (j - (len(labels) - 1) / 2) * width
                ax.bar(x, means, width, yerr=ses, color=COLOURS.get(name), label=label.upper(), capsize=3)
        ax.set_xticks(range(len(pairs)), pairs, rotation=15, fontsize=8)
        ax.set_title(title)
        ax.grid(alpha=0.3, axis="y")
        if drawn:
            ax.legend(fontsize=7)
        else:
            ax.text(0.5, 0.5, "not recorded", ha="center", va="center", transform=ax.transAxes)
    fig.suptitle("Fig. 6: knowledge distillation (strong teacher → weak student)")
    import pandas as pd

    return _save(fig, Path(out_dir), "figure6_distillation", formats, pd.DataFrame(table))


# -------------------------------------------------------------------------------------------------
# The whole report


@dataclass
class ReportSummary:
    """What :func:`make_report` wrote: table files, figure files, and why any figure is missing."""

    out_dir: Path
    n_runs: int
    tables: dict[str, Path] = field(default_factory=dict)
    figures: dict[str, list[Path]] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    markdown: str = ""
    comparison: str | None = None
    skipped_runs: tuple[str, ...] = ()


def make_report(
    root: str | Path,
    out_dir: str | Path,
    *,
    sweep: str | Path | None = None,
    compare_paper: bool = False,
    formats: Sequence[str] = ("png", "pdf"),
    distillation: bool | Sequence[str] = True,
) -> ReportSummary:
    """Write Table 1 (Markdown, CSV, LaTeX) and Figures 1-6 for the runs under ``root``.

    Figs. 2, 3 and 5 use the paper's tasks (or their offline stand-ins, see ``PAPER_TASKS``) when
    they have smoothing sweeps (Fig. 2: Amazon Polarity, HH-RLHF; Fig. 3: SciQ, CAI-Harmless; Fig. 5:
    CAI-Harmless, HH-RLHF). Otherwise Figs. 2 and 5 draw every task that has one, and Fig. 3 is
    listed as missing.

    Args:
        root: the store root holding ``runs/`` (and ``sweeps/``).
        out_dir: where the files go (created).
        sweep: restrict to the runs a sweep manifest lists.
        compare_paper: also write ``table1_vs_paper.md`` (ours beside the paper's numbers).
        formats: figure formats among png, pdf, svg.
        distillation: Fig. 6's selector (see :func:`figure6_distillation`).

    Returns:
        :class:`ReportSummary`.
    """
    from w2sg.report.collect import collect_runs
    from w2sg.report.tables import build_table1, compare_with_paper, write_table1

    formats = _check_formats(formats)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    collection = collect_runs(root, sweep=sweep)
    summary = ReportSummary(out_dir=out, n_runs=len(collection.runs), skipped_runs=collection.skipped)
    table = build_table1(collection.frame) if not collection.frame.empty else None
    if table is not None and not table.empty:
        summary.tables = write_table1(table, out)
        summary.markdown = table.to_markdown()
    else:
        summary.missing["table1"] = "no finished W2S runs with test metrics"
        summary.markdown = "_No finished runs to tabulate._\n"
    if compare_paper:
        from w2sg.report.tables import Table1

        empty = Table1(_empty_cells(), (), "accuracy", 0.05)
        summary.comparison = compare_with_paper(table if table is not None else empty)
        path = out / "table1_vs_paper.md"
        path.write_text(summary.comparison, encoding="utf-8")
        summary.tables["paper_comparison"] = path

    fig3 = figure_smoothing(collection, out, number=3, tasks=PAPER_TASKS[3], formats=formats)
    results: dict[str, list[Path] | str] = {
        "figure1": figure1_bias_variance(collection, out, formats=formats),
        "figure2": figure_smoothing(collection, out, number=2, prefer=PAPER_TASKS[2], formats=formats),
        "figure3": fig3 if not isinstance(fig3, str) else fig3 + " (other tasks are drawn in Fig. 2)",
        "figure4": figure4_gradients(collection, out, formats=formats),
        "figure5": figure_smoothing(collection, out, number=5, prefer=PAPER_TASKS[5],
                                    objectives=("ce", "rce", "kl", "rkl"), distance=False, formats=formats),
        "figure6": figure6_distillation(collection, out, distillation=distillation, formats=formats),
    }
    for name, result in results.items():
        if isinstance(result, str):
            summary.missing[name] = result
        else:
            summary.figures[name] = result
    return summary


def _empty_cells():
    import pandas as pd

    return pd.DataFrame(columns=["dataset", "task", "weak", "strong", "pair", "setting", "column", "label", "mean",
                                 "standard_error", "n_seeds", "p_value", "significant", "best", "seeds", "values"])
