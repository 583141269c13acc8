"""``w2sg theory smoothing``: Proposition 2, CE vs RCE population minimisers under label smoothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer


def _parse_unit_list(text: str, name: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        values = []
    if not values or any(not (0.0 <= v <= 1.0) for v in values):
        raise typer.BadParameter(f"`{name}` must be a comma list of numbers in [0, 1]. Got {text!r} instead.")
    return values


def smoothing(
    alphas: Annotated[
        str, typer.Option(help="Smoothing strengths alpha in [0, 1] (1 = unchanged, 0 = uniform).")
    ] = "1.0,0.8,0.6,0.4,0.2,0.1,0.0",
    labels: Annotated[
        str, typer.Option(help="Binary teacher soft labels (probability of class 1), comma list in [0, 1].")
    ] = "0.95,0.8,0.65,0.55",
    out: Annotated[Path, typer.Option(help="PNG of the minimisers' accuracy and shift vs alpha.")] = Path(
        "smoothing.png"
    ),
    json_out: Annotated[Path | None, typer.Option(help="Also write the table as JSON here.")] = None,
) -> None:
    """Show Proposition 2: smoothing y -> alpha*y + (1-alpha)/2 moves the CE minimiser, not the RCE one.

    For each teacher label and alpha: the smoothed label, the CE minimiser (the smoothed label) and the
    RCE minimiser (the teacher's argmax), with each minimiser's mass on the unsmoothed argmax
    (its expected accuracy against the teacher's hard label).
    """
    from rich.console import Console
    from rich.table import Table

    from w2sg.report.theory_plots import plot_smoothing
    from w2sg.theory.ce import binary_probs, smoothing_table

    alpha_values = _parse_unit_list(alphas, "alphas")
    label_values = _parse_unit_list(labels, "labels")
    result = smoothing_table(binary_probs(label_values), alpha_values)
    console = Console()
    if not console.is_terminal:
        console = Console(width=120)
    table = Table(title="Proposition 2: population minimisers after label-proportional smoothing (k = 2)")
    for col in ("alpha", "teacher y", "smoothed y", "CE min P(1)", "CE acc", "RCE min P(1)", "RCE acc"):
        table.add_column(col, justify="right")
    for a in range(result.alphas.size):
        for i in range(result.labels.shape[0]):
            table.add_row(
                f"{result.alphas[a]:.3g}",
                f"{result.labels[i, 1]:.4g}",
                f"{result.smoothed[a, i, 1]:.4g}",
                f"{result.ce[a, i, 1]:.4g}",
                f"{result.ce_accuracy[a, i]:.4g}",
                f"{result.rce[a, i, 1]:.4g}",
                f"{result.rce_accuracy[a, i]:.4g}",
            )
    console.print(table)
    written = plot_smoothing(result, out)
    console.print(f"wrote {written}")
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps({"rows": result.rows()}, indent=1))
        console.print(f"wrote {json_out}")
