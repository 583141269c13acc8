"""``w2sg theory runs``: the W2SG accounting measured on the teachers and students of finished runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

GroupBy = Literal["none", "seed"]


def runs(
    results_dir: Annotated[Path, typer.Argument(help="Store root holding runs/<hash>/results.json.")],
    sweep: Annotated[
        str | None, typer.Option(help="Only the runs of this sweep (name under sweeps/ or a manifest path).")
    ] = None,
    objective: Annotated[
        str | None, typer.Option(help="Only students of this objective label (aux(warmup_frac=0.2)) or name (aux).")
    ] = None,
    independent: Annotated[
        bool, typer.Option(help="Treat teacher and student as independent (Theorem B.1).")
    ] = False,
    json_out: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
    out: Annotated[
        Path | None, typer.Option(help="Also write theory_runs.csv and theory_runs.md into this folder.")
    ] = None,
    group_by: Annotated[
        GroupBy, typer.Option(help="none: one law per config group over all (run, seed) pairs; seed: one per seed.")
    ] = "none",
) -> None:
    """Evaluate Theorem 3.1 and Corollary 5.1 on real runs: one table per group of runs.

    Every (run, seed) is one (teacher, student) pair: the weak teacher's and the student's test
    probabilities, aligned by example id on the test ids all pairs share (use
    ``--set data.fixed_test=true`` when running). The observed gain R(Fw) - R(Fs) (test CE) equals
    E KL(Fs||Fw) minus the Eq. (16) remainder exactly; Theorem 3.1 bounds it below by
    E KL(Fs||Fw) - eps1.
    """
    from w2sg.report.theory_bridge import BRIDGE_TERMS, results_json, theory_from_runs, write_bridge_tables

    try:
        results = theory_from_runs(
            results_dir, sweep=sweep, objective=objective, independent=independent, group_by=group_by
        )
        written = write_bridge_tables(results, out) if out is not None else None
    except (ValueError, TypeError, FileNotFoundError) as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(code=2) from None

    if json_out:
        typer.echo(results_json(results))  # inf is written as Infinity (Python json)
        return

    from rich.console import Console
    from rich.table import Table

    from w2sg.commands.theory_account import format_value, add_accounting_rows

    console = Console()
    law = "Theorem B.1 (independent)" if independent else "Theorem 3.1, Dirac posterior"
    for result in results:
        seed = f", seed {result.seed}" if result.seed is not None else ""
        title = (
            f"{result.task}: {result.weak} -> {result.strong}, {result.objective}, smoothing "
            f"{result.smoothing:g}, {result.n_teachers} teacher(s){seed} | {law}: {result.n_pairs} pairs "
            f"({len(result.runs)} runs), {result.n_inputs} common test ids"
        )
        table = Table(title=title)
        table.add_column("term")
        table.add_column("value", justify="right")
        table.add_column("meaning")
        table.add_column("equation")
        for name, (meaning, eq, kind) in BRIDGE_TERMS.items():
            table.add_row(f"bridge.{name}", format_value(float(getattr(result, name))), f"{meaning} [{kind}]", eq)
        table.add_row("bridge.n_dropped / n_clipped", f"{result.n_dropped} / {result.n_clipped}",
                      "test ids not shared by all pairs / probabilities clipped to [1e-12, 1-1e-12]", "")
        table.add_section()
        add_accounting_rows(table, result.accounting, result.cross_entropy)
        console.print(table)
    if written is not None:
        console.print(f"wrote {written[0]} and {written[1]}")
