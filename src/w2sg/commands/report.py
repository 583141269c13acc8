"""``w2sg report``: the paper's Table 1 and Figures 1-6 from a run store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer


def report(
    results_dir: Annotated[Path, typer.Argument(help="Store root holding runs/ (and sweeps/).")],
    out: Annotated[
        Optional[Path], typer.Option(help="Where tables and figures go (default: <results_dir>/report).")
    ] = None,
    sweep: Annotated[
        Optional[str], typer.Option(help="Only the runs of this sweep (a name under sweeps/, or a manifest path).")
    ] = None,
    compare_paper: Annotated[
        bool, typer.Option("--compare-paper", help="Print our Table 1 beside the paper's numbers.")
    ] = False,
    formats: Annotated[str, typer.Option(help="Figure formats, comma-separated: png, pdf, svg.")] = "png,pdf",
) -> None:
    """Write Table 1 (Markdown, CSV, LaTeX) and Figures 1-6; print the table and what is missing."""
    from rich.console import Console

    from w2sg.report.figures import make_report

    console = Console()
    out_dir = out if out is not None else Path(results_dir) / "report"
    fmts = tuple(f.strip() for f in formats.split(",") if f.strip())
    try:
        summary = make_report(results_dir, out_dir, sweep=sweep, compare_paper=compare_paper, formats=fmts)
    except (FileNotFoundError, ValueError) as err:
        console.print(f"[red]{err}[/red]")
        raise typer.Exit(2) from None

    console.print(f"{summary.n_runs} finished run(s) under {results_dir}")
    for note in summary.skipped_runs:
        console.print(f"  skipped {note}")
    console.print()
    print(summary.markdown)
    if summary.comparison is not None:
        console.print("[bold]Against the paper's Table 1[/bold]")
        print(summary.comparison)
    for name, path in summary.tables.items():
        console.print(f"table  {name:<17} {path}")
    for name, paths in summary.figures.items():
        console.print(f"figure {name:<17} " + ", ".join(str(p) for p in paths))
    for name, reason in summary.missing.items():
        console.print(f"[yellow]missing {name}[/yellow]: {reason}")
