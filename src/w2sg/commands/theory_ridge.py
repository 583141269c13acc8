"""``w2sg theory ridge``: Example 1 / Theorem 4.1 misfit against student width, simulated and in closed form."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Literal

import typer


def parse_floats(text: str, name: str) -> list[float]:
    """Parse ``"a,b,c"`` (a list) or ``"start:stop:num"`` (``num`` log-spaced values) into floats > 0.

    Raises:
        typer.BadParameter: naming ``name``, on malformed text or values <= 0.
    """
    import numpy as np

    text = text.strip()
    try:
        if ":" in text:
            parts = text.split(":")
            if len(parts) != 3:
                raise ValueError("expected start:stop:num")
            start, stop, num = float(parts[0]), float(parts[1]), int(parts[2])
            if num < 1 or start <= 0 or stop <= 0:
                raise ValueError("start and stop must be > 0 and num >= 1")
            values = np.geomspace(start, stop, num).tolist()
        else:
            values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError as exc:
        raise typer.BadParameter(
            f"`{name}` must be a comma list 'a,b,c' or 'start:stop:num' of numbers > 0. Got {text!r} instead ({exc})."
        ) from None
    if not values or any(not math.isfinite(v) or v <= 0 for v in values):
        raise typer.BadParameter(f"`{name}` must hold numbers > 0. Got {text!r} instead.")
    return values


def ridge(
    d: Annotated[int, typer.Option(min=1, help="Input dimension d.")] = 400,
    widths: Annotated[
        str,
        typer.Option(
            help="Student widths as multiples gamma = m/d: a list 'a,b,c' or 'start:stop:num' "
            "(num log-spaced values). m = round(gamma * d)."
        ),
    ] = "0.25:8:30",
    lams: Annotated[str, typer.Option(help="Ridge parameters: 'a,b,c' or 'start:stop:num'.")] = "0.01,0.1,1",
    seeds: Annotated[int, typer.Option(min=1, help="Seeds (first layer, teacher, W2S sample).")] = 10,
    convention: Annotated[
        Literal["A", "B"], typer.Option(help="B: W_ij ~ N(0, 1/d); A: W_ij ~ N(0, 1/m).")
    ] = "B",
    n: Annotated[
        int | None, typer.Option(min=1, help="W2S inputs per student; omit for the population limit n -> inf.")
    ] = None,
    teachers: Annotated[int, typer.Option(min=1, help="Teachers per seed (misfit averaged over them).")] = 1,
    out: Annotated[Path, typer.Option(help="PNG with misfit (markers) and C*g (lines) vs width.")] = Path(
        "ridge.png"
    ),
    json_out: Annotated[Path | None, typer.Option(help="Also write the sweep as JSON here.")] = None,
) -> None:
    """Simulate Example 1 over student widths and compare with Theorem 4.1's limit C*g(gamma, lambda).

    Teachers have ||w||^2 = C = 1, so the misfit column is directly comparable with g.
    """
    import time

    from rich.console import Console
    from rich.table import Table

    from w2sg.report.theory_plots import plot_ridge_sweep
    from w2sg.theory.ridge import sweep

    gammas = parse_floats(widths, "widths")
    lam_values = parse_floats(lams, "lams")
    ms = sorted({max(1, round(gm * d)) for gm in gammas})
    console = Console()
    if not console.is_terminal:
        console = Console(width=120)
    if len(ms) < len(gammas):
        console.print(f"note: {len(gammas)} widths round to {len(ms)} distinct m at d={d}")
    start = time.perf_counter()
    try:
        result = sweep(d, ms, lam_values, seeds, n, convention=convention, n_teachers=teachers)
    except (ValueError, TypeError) as exc:
        raise typer.BadParameter(str(exc)) from None
    elapsed = time.perf_counter() - start

    table = Table(title=f"Theorem 4.1 / Example 1: d={d}, n={'inf' if n is None else n}, convention {convention}")
    for col in ("gamma", "m", "lam", "misfit mean", "sd", "C*g", "rel. diff"):
        table.add_column(col, justify="right")
    for row in result.rows():
        rel = row["misfit_mean"] / row["g"] - 1.0 if row["g"] > 0 else math.nan
        table.add_row(
            f"{row['gamma']:.6g}",
            str(row["m"]),
            f"{row['lam']:.6g}",
            f"{row['misfit_mean']:.6g}",
            f"{row['misfit_sd']:.6g}",
            f"{row['g']:.6g}",
            f"{rel:+.3%}",
        )
    console.print(table)
    console.print(f"{len(ms)} widths x {len(lam_values)} lambdas x {seeds} seeds in {elapsed:.2f} s")
    written = plot_ridge_sweep(result, out)
    console.print(f"wrote {written}")
    if json_out is not None:
        payload = result.to_dict()
        payload["seconds"] = elapsed
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(payload, indent=1))
        console.print(f"wrote {json_out}")
