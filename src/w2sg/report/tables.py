r"""The paper's Table 1 from the run store: student test accuracy per objective, weak -> strong.

Rows are (dataset, weak -> strong); columns are the weak floor, each objective present (CE, RCE,
KL, RKL, AUX, CACE, SL) and the strong ceiling. A cell is the mean over seeds with its standard
error,

.. math::
    \bar a = \frac1n\sum_{s=1}^n a_s, \qquad \mathrm{se} = \frac{\mathrm{sd}(a_1..a_n)}{\sqrt n}
    \quad (\text{sd with } n-1),

the best objective of a row is marked, and every objective is compared with CE by a paired t-test
over the seeds both were trained on (``scipy.stats.ttest_rel``; the pipeline gives both students
the same teacher labels per seed, so the pairing removes the seed's shared noise). An objective
with several parameter settings (e.g. AUX's grid) shows its best setting, as the paper does
(MATH.md §8.4).
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

__all__ = ["Table1", "build_table1", "compare_with_paper", "load_paper_table1", "write_table1"]

OBJECTIVE_ORDER = ("ce", "rce", "kl", "rkl", "aux", "cace", "sl")
OBJECTIVE_DISPLAY = {name: name.upper() for name in OBJECTIVE_ORDER}
FLOOR, CEILING = "Weak", "Strong ceiling"
# Settings that change what a student is trained on; a row is split by those that vary.
SETTING_COLUMNS = ("smoothing", "n_teachers", "ensemble", "hard_labels", "n_subsets", "subset", "weak_finetune",
                   "strong_finetune", "setup")
_PERCENT = {"accuracy", "accuracy_low_confidence", "auroc", "agreement_with_teacher"}
_LOWER_IS_BETTER = {"cross_entropy", "ece"}
Metric = Literal["accuracy", "accuracy_low_confidence", "auroc", "cross_entropy", "ece", "agreement_with_teacher"]


@dataclass(frozen=True)
class Table1:
    """Table 1 in long form, one row per cell, and its column order.

    ``cells`` columns: dataset, task, weak, strong, pair, setting, column, label (the model label
    shown), mean, standard_error, n_seeds, p_value (vs CE; NaN for CE, floor and ceiling or when
    fewer than two matched seeds), significant, best, seeds (JSON list), values (JSON list).
    """

    cells: Any  # pandas.DataFrame
    columns: tuple[str, ...]
    metric: str
    alpha: float

    @property
    def empty(self) -> bool:
        return len(self.cells) == 0

    @property
    def has_setting(self) -> bool:
        return bool(len(self.cells)) and bool((self.cells["setting"] != "").any())

    def _rows(self) -> list[tuple[Any, ...]]:
        keys = ["dataset", "pair", "setting"]
        return list(dict.fromkeys(tuple(r) for r in self.cells[keys].itertuples(index=False)))

    def _cell(self, row: tuple[Any, ...], column: str):
        c = self.cells
        hit = c[(c.dataset == row[0]) & (c.pair == row[1]) & (c.setting == row[2]) & (c.column == column)]
        return None if hit.empty else hit.iloc[0]

    def _caption(self) -> str:
        what = "Test accuracy (%)" if self.metric == "accuracy" else f"Test {self.metric}"
        if self.metric in _PERCENT and self.metric != "accuracy":
            what += " (%)"
        return (
            f"{what} of the student, weak → strong: mean ± standard error over seeds. Bold: the best objective "
            f"of the row. p: paired t-test against CE over matched seeds (scipy.stats.ttest_rel); "
            f"†: p < {self.alpha:g}."
        )

    def _notes(self) -> list[str]:
        notes = []
        c = self.cells
        objective_columns = [OBJECTIVE_DISPLAY[o] for o in OBJECTIVE_ORDER]
        shown = c[c.column.isin(objective_columns) & c.label.str.contains(r"\(", regex=True)]
        for _, cell in shown.iterrows():
            notes.append(f"{cell.dataset}, {cell.pair}: {cell.column} is {cell.label} (best of its settings).")
        return notes

    def _format(self, cell, *, bold: tuple[str, str], dagger: str, pm: str) -> str:
        if cell is None:
            return "–"
        digits = 2
        text = f"{cell['mean']:.{digits}f}"
        if not math.isnan(cell["standard_error"]):
            text += f" {pm} {cell['standard_error']:.{digits}f}"
        if cell["best"]:
            text = f"{bold[0]}{text}{bold[1]}"
        if not math.isnan(cell["p_value"]):
            text += f" (p={cell['p_value']:.3g})"
            if cell["significant"]:
                text += dagger
        return text

    def to_markdown(self) -> str:
        """The table as GitHub Markdown (best bold, † for p < alpha), with a caption line."""
        if self.empty:
            return "_No finished runs to tabulate._\n"
        head = ["Dataset", "Weak → Strong"] + (["Setting"] if self.has_setting else []) + list(self.columns)
        lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
        for row in self._rows():
            cells = [row[0], row[1]] + ([row[2] or "default"] if self.has_setting else [])
            cells += [
                self._format(self._cell(row, col), bold=("**", "**"), dagger="†", pm="±") for col in self.columns
            ]
            lines.append("| " + " | ".join(cells) + " |")
        lines += ["", self._caption(), *self._notes()]
        return "\n".join(lines) + "\n"

    def to_latex(self) -> str:
        """The table as a LaTeX ``table`` (booktabs rules; best in ``\\textbf``; ``$^\\dagger$`` for p < alpha)."""
        if self.empty:
            return "% No finished runs to tabulate.\n"
        head = ["Dataset", r"Weak $\to$ Strong"] + (["Setting"] if self.has_setting else []) + list(self.columns)
        spec = "ll" + ("l" if self.has_setting else "") + "c" * len(self.columns)
        lines = [
            r"\begin{table}[t]",
            r"\centering",
            r"\small",
            rf"\begin{{tabular}}{{{spec}}}",
            r"\toprule",
            " & ".join(_latex_escape(h) if "$" not in h else h for h in head) + r" \\",
            r"\midrule",
        ]
        for row in self._rows():
            cells = [_latex_escape(row[0]), _latex_escape(row[1]).replace("→", r"$\to$")]
            if self.has_setting:
                cells.append(_latex_escape(row[2] or "default"))
            for col in self.columns:
                text = self._format(self._cell(row, col), bold=(r"\textbf{", "}"), dagger=r"$^\dagger$", pm=r"$\pm$")
                cells.append(text.replace("–", "--") if text == "–" else text)
            lines.append(" & ".join(cells) + r" \\")
        caption = _latex_escape(self._caption())
        for a, b in (("†", r"$^\dagger$"), ("→", r"$\to$"), ("±", r"$\pm$")):
            caption = caption.replace(a, b)
        lines += [
            r"\bottomrule",
            r"\end{tabular}",
            r"\caption{" + caption + "}",
            r"\end{table}",
        ]
        return "\n".join(lines) + "\n"

    def to_csv(self) -> str:
        """Long form, one line per cell; ``best`` holds ``*`` for the row's best objective."""
        frame = self.cells.copy()
        frame["best"] = np.where(frame["best"], "*", "")
        frame = frame.rename(columns={"p_value": "p_value_vs_ce"})
        return frame.to_csv(index=False)


def _latex_escape(text: str) -> str:
    for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("_", r"\_"), ("#", r"\#"),
                 ("$", r"\$"), ("{", r"\{"), ("}", r"\}")):
        text = text.replace(a, b)
    return text


def _mean_se(values: np.ndarray) -> tuple[float, float]:
    mean = float(values.mean())
    se = float(values.std(ddof=1) / math.sqrt(values.size)) if values.size > 1 else math.nan
    return mean, se


def paired_p_value(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided paired t-test p-value of ``a`` vs ``b`` (matched seeds); NaN when undefined.

    NaN for fewer than two pairs, or when every difference is equal (zero variance: no test).

    Examples:
        >>> round(paired_p_value([0.8, 0.82, 0.85], [0.79, 0.80, 0.81]), 4)
        0.1181
    """
    from scipy import stats

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"`a` and `b` of paired_p_value must have the same shape. Got {a.shape} and {b.shape}.")
    diff = a - b
    if a.size < 2 or np.allclose(diff, diff[0], rtol=0, atol=1e-15):
        return math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(stats.ttest_rel(a, b).pvalue)


def _select(frame, *, distillation: bool):
    """Runs for the table, per (task, weak, strong): standard supervision when such runs exist.

    Standard: one teacher, no smoothing, soft labels, no bias-variance subsets; failing that, the
    first subset of a bias-variance design; failing that, every run of the pair.
    """
    import pandas as pd

    frame = frame[frame["distillation"] == distillation]
    plain = (frame["smoothing"] == 1.0) & (frame["n_teachers"] == 1) & (~frame["hard_labels"].astype(bool))
    tiers = (plain & (frame["n_subsets"] == 1), plain & (frame["subset"] == 0))
    parts = []
    for _, index in frame.groupby(["task", "weak", "strong"], sort=False).groups.items():
        group = frame.loc[index]
        for tier in tiers:
            chosen = group[tier.loc[index]]
            if len(chosen):
                group = chosen
                break
        parts.append(group)
    return pd.concat(parts) if parts else frame


def build_table1(
    frame: Any,
    *,
    metric: Metric = "accuracy",
    alpha: float = 0.05,
    distillation: bool = False,
) -> Table1:
    r"""Build Table 1 from a :func:`~w2sg.report.collect.results_frame`.

    For each (task, weak, strong), runs with standard supervision (one teacher, no smoothing, soft
    labels, no bias-variance subsets) are used when there are any; settings that still vary
    within a (dataset, pair) split its row (the ``setting`` column). A model trained on the same
    seed by several runs counts once.

    Args:
        frame: the results frame (one row per run, seed and model label).
        metric: which test metric fills the cells (percent for accuracy-like metrics).
        alpha: significance level of the paired test against CE.
        distillation: tabulate knowledge-distillation runs (larger weak model) instead of W2S runs.

    Returns:
        :class:`Table1`.

    Raises:
        ValueError: an unknown ``metric``, ``alpha`` outside (0, 1), or a frame missing columns.
    """
    import pandas as pd

    allowed = ("accuracy", "accuracy_low_confidence", "auroc", "cross_entropy", "ece", "agreement_with_teacher")
    if metric not in allowed:
        raise ValueError(f"`metric` of build_table1 must be one of {allowed}. Got {metric!r} instead.")
    if not (isinstance(alpha, (int, float)) and 0 < alpha < 1):
        raise ValueError(f"`alpha` of build_table1 must be a float in (0, 1). Got {alpha!r} instead.")
    needed = {"dataset", "task", "weak", "strong", "pair", "model", "role", "objective", "seed", metric,
              *SETTING_COLUMNS}
    missing = sorted(needed - set(frame.columns))
    if missing:
        raise ValueError(f"`frame` of build_table1 lacks columns {missing}; build it with results_frame().")

    scale = 100.0 if metric in _PERCENT else 1.0
    sign = -1.0 if metric in _LOWER_IS_BETTER else 1.0
    data = _select(frame, distillation=distillation)
    data = data[data[metric].notna()]
    group_keys = ["dataset", "task", "weak", "strong", "pair"]
    varied = [
        c for c in SETTING_COLUMNS
        if len(data) and (data.groupby(group_keys, dropna=False)[c].nunique(dropna=False) > 1).any()
    ]
    data = data.assign(
        setting=[", ".join(f"{c}={r[c]}" for c in varied) for _, r in data.iterrows()] if varied else ""
    )
    data = data.drop_duplicates(subset=[*group_keys, "setting", "model", "seed"], keep="first")

    present = [o for o in OBJECTIVE_ORDER if (data["objective"] == o).any()]
    columns = (FLOOR, *(OBJECTIVE_DISPLAY[o] for o in present), CEILING)
    cells: list[dict[str, Any]] = []
    for key, group in data.groupby([*group_keys, "setting"], sort=False, dropna=False):
        row = dict(zip([*group_keys, "setting"], key))
        per_label = {
            label: g.sort_values("seed").set_index("seed")[metric].astype(float) * scale
            for label, g in group.groupby("model", sort=False)
        }
        chosen: dict[str, str] = {}
        if "weak" in per_label:
            chosen[FLOOR] = "weak"
        if "strong_ceiling" in per_label:
            chosen[CEILING] = "strong_ceiling"
        for obj in present:
            labels = sorted(set(group.loc[group["objective"] == obj, "model"]))
            if labels:
                chosen[OBJECTIVE_DISPLAY[obj]] = max(labels, key=lambda lb: (sign * per_label[lb].mean(), lb == obj))
        ce = per_label.get(chosen.get("CE", ""), None)
        row_cells = []
        for column in columns:
            if column not in chosen:
                continue
            series = per_label[chosen[column]]
            mean, se = _mean_se(series.to_numpy())
            p = math.nan
            if ce is not None and column not in (FLOOR, CEILING, "CE"):
                seeds = series.index.intersection(ce.index)
                p = paired_p_value(series.loc[seeds].to_numpy(), ce.loc[seeds].to_numpy())
            row_cells.append({
                **row, "column": column, "label": chosen[column], "mean": mean, "standard_error": se,
                "n_seeds": int(series.size), "p_value": p, "significant": bool(not math.isnan(p) and p < alpha),
                "seeds": json.dumps([int(s) for s in series.index]), "values": json.dumps([float(v) for v in series]),
            })
        objective_means = [sign * c["mean"] for c in row_cells if c["column"] not in (FLOOR, CEILING)]
        top = max(objective_means) if objective_means else math.nan
        for c in row_cells:
            c["best"] = c["column"] not in (FLOOR, CEILING) and sign * c["mean"] >= top - 1e-9
        cells.extend(row_cells)
    order = ["dataset", "task", "weak", "strong", "pair", "setting", "column", "label", "mean", "standard_error",
             "n_seeds", "p_value", "significant", "best", "seeds", "values"]
    return Table1(pd.DataFrame(cells, columns=order), columns, metric, float(alpha))


def write_table1(table: Table1, out_dir: str | Path, *, stem: str = "table1") -> dict[str, Path]:
    """Write ``<stem>.md``, ``<stem>.csv`` and ``<stem>.tex`` into ``out_dir``; returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"markdown": out / f"{stem}.md", "csv": out / f"{stem}.csv", "latex": out / f"{stem}.tex"}
    paths["markdown"].write_text(table.to_markdown(), encoding="utf-8")
    paths["csv"].write_text(table.to_csv(), encoding="utf-8")
    paths["latex"].write_text(table.to_latex(), encoding="utf-8")
    return paths


def load_paper_table1():
    """The paper's Table 1 (MATH.md §8.4) as a DataFrame: dataset, weak, strong, ce, rce, aux, cace, sl (%)."""
    import importlib.resources

    import pandas as pd

    with importlib.resources.files("w2sg.reference").joinpath("paper_table1.csv").open("r", encoding="utf-8") as fh:
        return pd.read_csv(fh)


def _norm(text: Any) -> str:
    return str(text).lower().replace(" ", "").replace("_", "-")


def compare_with_paper(table: Table1) -> str:
    """Markdown: our Table 1 cells beside the paper's, matched by dataset name and model pair.

    When no row matches (offline runs use other models and data), the paper's table is printed
    alone with a note saying so.
    """
    paper = load_paper_table1()
    objectives = [c for c in paper.columns if c not in ("dataset", "weak", "strong")]
    ours = table.cells
    lines: list[str] = []
    matched = 0
    head = ["Dataset", "Weak → Strong"]
    head += [f"{OBJECTIVE_DISPLAY[o]} paper | {OBJECTIVE_DISPLAY[o]} ours" for o in objectives]
    body = []
    for _, prow in paper.iterrows():
        hit = ours[
            (ours["dataset"].map(_norm) == _norm(prow["dataset"]))
            & (ours["pair"].map(_norm) == _norm(f"{prow['weak']} → {prow['strong']}"))
        ] if len(ours) else ours
        if hit is None or hit.empty:
            continue
        matched += 1
        cells = [str(prow["dataset"]), f"{prow['weak']} → {prow['strong']}"]
        for o in objectives:
            mine = hit[hit["column"] == OBJECTIVE_DISPLAY[o]]
            value = "–" if mine.empty else f"{mine.iloc[0]['mean']:.2f} ± {mine.iloc[0]['standard_error']:.2f}"
            cells.append(f"{prow[o]:.2f} | {value}")
        body.append("| " + " | ".join(cells) + " |")
    if matched:
        n_cols = 2 + 2 * len(objectives)
        lines += ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in range(n_cols)) + "|", *body, ""]
        lines.append(f"{matched} of {len(paper)} paper rows matched by dataset and model pair (accuracy %).")
        return "\n".join(lines) + "\n"
    lines.append(
        "No run matches a row of the paper's Table 1 (matched by dataset name and GPT-2 pair); "
        "the paper's numbers (test accuracy %, MATH.md §8.4) are shown alone:"
    )
    lines.append("")
    head = ["Dataset", "Weak → Strong", *(OBJECTIVE_DISPLAY[o] for o in objectives)]
    lines += ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for _, prow in paper.iterrows():
        best = max(prow[o] for o in objectives)
        vals = [f"**{prow[o]:.2f}**" if prow[o] == best else f"{prow[o]:.2f}" for o in objectives]
        lines.append("| " + " | ".join([str(prow["dataset"]), f"{prow['weak']} → {prow['strong']}", *vals]) + " |")
    return "\n".join(lines) + "\n"
