"""``w2sg run``: one weak-to-strong experiment (floor, ceiling, a student per objective)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer


def run(
    config: Annotated[
        Optional[Path],
        typer.Argument(help="TOML/YAML config. Omit it to run the embedded offline default."),
    ] = None,
    set_: Annotated[
        list[str], typer.Option("--set", help="Override a config key: --set data.n_weak=500 (repeatable).")
    ] = [],  # noqa: B006 - typer needs a literal default
    output_dir: Annotated[
        Optional[Path], typer.Option(help="Where runs/ and stages/ are stored (default: runtime.output_dir).")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Validate the config and print it; train nothing.")] = False,
    quiet: Annotated[bool, typer.Option(help="No progress bars.")] = False,
) -> None:
    """Train the weak teacher(s), the strong ceiling and a W2S student per objective; print the table."""
    from rich.console import Console

    from w2sg.config import dump_config, load_config

    console = Console()
    overrides = list(set_)
    if output_dir is not None:
        overrides.append(f"runtime.output_dir={str(output_dir)!r}")
    if quiet:
        overrides.append("runtime.progress=false")
    try:
        cfg = load_config(config, overrides)
    except (ValueError, FileNotFoundError) as err:
        console.print(f"[red]{err}[/red]")
        raise typer.Exit(2) from None
    if dry_run:
        from w2sg.pipeline import Experiment

        try:
            Experiment(cfg).check_objectives()
        except ValueError as err:
            console.print(f"[red]{err}[/red]")
            raise typer.Exit(2) from None
        console.print(dump_config(cfg))
        console.print(f"[green]valid[/green]: run {cfg.config_hash()} -> {Path(cfg.runtime.output_dir) / 'runs' / cfg.config_hash()}")
        return

    from w2sg.commands import quiet_third_party_output
    from w2sg.pipeline import run_experiment

    quiet_third_party_output()

    console.print(
        f"[bold]{cfg.name}[/bold]: {cfg.weak.source} -> {cfg.strong.source} on {cfg.data.task}, "
        f"seeds {cfg.seeds}, objectives {[o.label for o in cfg.objectives]}"
    )
    results = run_experiment(cfg, report=lambda message: console.print(message, highlight=False))
    console.print(results_table(results))
    run_dir = Path(cfg.runtime.output_dir) / "runs" / cfg.config_hash()
    console.print(f"results: {run_dir / 'results.json'}  summary figure: {run_dir / 'summary.png'}")
    console.print(f"wall time: {results['wall_seconds']:.0f}s")


def _fmt(entry: dict[str, Any] | None, scale: float = 100.0) -> str:
    if not entry:
        return "-"
    mean, se = entry["mean"], entry.get("standard_error")
    if se is None or se != se:  # nan: a single seed
        return f"{scale * mean:.2f}"
    return f"{scale * mean:.2f} ± {scale * se:.2f}"


def results_table(results: dict[str, Any]):
    """A rich table: accuracy, AUROC, test CE and PGR (mean ± s.e. over seeds) for every model."""
    from rich.table import Table

    summary = results["summary"]
    n = len(results["seeds"])
    table = Table(title=f"{results['config']['name']}: test metrics, mean ± s.e. over {n} seed(s)")
    for column in ("model", "accuracy %", "AUROC %", "test CE", "PGR"):
        table.add_column(column, justify="left" if column == "model" else "right")
    names = {"weak": "weak teacher (floor)", "strong_ceiling": "strong on ground truth (ceiling)"}
    order = ["weak", *[k for k in summary if k not in ("weak", "strong_ceiling")], "strong_ceiling"]
    for key in order:
        entry = summary[key]
        pgr = entry.get("pgr")
        pgr_text = "-" if not pgr else _fmt({"mean": pgr["mean"], "standard_error": pgr.get("standard_error")}, 1.0)
        table.add_row(
            names.get(key, f"W2S student: {key}"),
            _fmt(entry.get("accuracy")),
            _fmt(entry.get("auroc")),
            _fmt(entry.get("cross_entropy"), 1.0),
            pgr_text,
        )
    return table
