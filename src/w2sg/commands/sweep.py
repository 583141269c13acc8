"""``w2sg sweep``: run a grid of experiments, resumably, on local processes or on Ray."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer


def _show(value: Any) -> str:
    return json.dumps(value, default=str) if isinstance(value, (list, dict)) else str(value)


def sweep(
    config: Path = typer.Argument(..., help="Sweep file: a run config (TOML/YAML/JSON) with a [sweep] table."),
    set_: list[str] = typer.Option([], "--set", help="Override a key of the file: a.b=value (repeatable)."),
    backend: str = typer.Option("local", help="local (process pool) or ray."),
    workers: int = typer.Option(1, help="Local processes in parallel; 1 runs in this process."),
    address: str | None = typer.Option(None, help="Ray cluster address; default starts Ray locally."),
    cpus_per_run: float = typer.Option(1, help="CPUs each Ray task declares."),
    gpus_per_run: float = typer.Option(0, help="GPUs each Ray task declares."),
    output_dir: Path | None = typer.Option(None, help="Store root (default: runtime.output_dir of the file)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Validate and list the runs without running them."),
) -> None:
    """Run every point of a sweep grid; rerun the same command to resume (finished runs are skipped).

    Each run is named by its config hash (runs/<hash>/); runs that fail leave runs/<hash>/error.txt
    and the exit code is 1. sweeps/<name>.json lists the sweep's runs for `w2sg report`.
    """
    from rich.console import Console
    from rich.table import Table

    from w2sg.store import Store
    from w2sg.sweep import load_sweep, run_sweep

    console = Console()
    errors = Console(stderr=True)
    if backend not in ("local", "ray"):
        errors.print(f"[red]--backend must be 'local' or 'ray'. Got {backend!r} instead.[/red]")
        raise typer.Exit(2)
    try:
        plan = load_sweep(config, set_, output_dir=output_dir)
    except (ValueError, TypeError, FileNotFoundError) as err:
        errors.print(f"[red]{err}[/red]", markup=False, highlight=False)
        raise typer.Exit(2) from None
    if not plan.points:
        errors.print("The sweep has no runs.")
        raise typer.Exit(2)

    store = Store(output_dir if output_dir is not None else plan.points[0].config.runtime.output_dir)
    finished = sum(store.run_results(h) is not None for h in plan.hashes)
    collapsed = plan.n_grid_points - len(plan.points)
    console.print(
        f"Sweep {plan.name}: {len(plan.points)} runs ({plan.n_grid_points} grid points, {collapsed} duplicates "
        f"collapsed), {finished} already finished, store {store.root}"
    )
    if dry_run:
        table = Table("run", *plan.keys, "status")
        table.columns[0].no_wrap = True
        for point in plan.points:
            status = "finished" if store.run_results(point.config_hash) is not None else "to run"
            table.add_row(point.config_hash, *(_show(point.values[k]) for k in plan.keys), status)
        console.print(table)
        return

    try:
        from w2sg.commands import quiet_third_party_output

        quiet_third_party_output()
        result = run_sweep(
            plan,
            store=store,
            backend=backend,  # type: ignore[arg-type]
            workers=workers,
            address=address,
            cpus_per_run=cpus_per_run,
            gpus_per_run=gpus_per_run,
        )
    except KeyboardInterrupt:
        errors.print("Interrupted. Finished runs are kept; run the same command again to resume.")
        raise typer.Exit(130) from None
    except (ValueError, TypeError, ImportError) as err:
        errors.print(f"[red]{err}[/red]", markup=False, highlight=False)
        raise typer.Exit(2) from None

    counts = result.counts()
    console.print(
        f"Sweep {result.name}: {counts['done']} done, {counts['skipped']} skipped (already finished), "
        f"{counts['failed']} failed. Runs listed in {result.manifest}"
    )
    if result.failed:
        table = Table("failed run", "error", "traceback")
        table.columns[0].no_wrap = True
        table.columns[2].overflow = "fold"
        for outcome in result.failed:
            error_file = store.run_dir(outcome.config_hash) / "error.txt"
            table.add_row(outcome.config_hash, outcome.error or "", str(error_file))
        console.print(table)
        raise typer.Exit(1)
