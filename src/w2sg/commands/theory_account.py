"""``w2sg theory account``: the paper's W2SG accounting on predictions saved in an ``.npz`` file."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

GeneratorName = Literal["kl", "binary-kl", "squared", "generalized-kl", "itakura-saito"]


def format_value(value: object) -> str:
    """A table cell: ``yes``/``no`` for bools, ``inf``/``-inf``, 6 significant digits for floats."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "inf" if value == math.inf else "-inf" if value == -math.inf else f"{value:.6g}"
    return str(value)


def add_accounting_rows(table: Any, acc: Any, ce: Any = None) -> None:
    """Add one (term, value, meaning, equation) row per accounting term to a rich ``table``.

    ``acc`` is an :class:`~w2sg.theory.accounting.Accounting`; ``ce`` an optional
    :class:`~w2sg.theory.accounting.CrossEntropyAccounting` whose terms follow in their own section.
    """
    from w2sg.theory.accounting import ACCOUNTING_TERMS, CROSS_ENTROPY_TERMS

    for name, (meaning, eq) in ACCOUNTING_TERMS.items():
        table.add_row(name, format_value(getattr(acc, name)), meaning, eq)
    table.add_row("w2sg_occurred", format_value(acc.w2sg_occurred), "R(Fs) < R(Fw)", "Sec. 1.2")
    if ce is not None:
        table.add_section()
        for name, (meaning, eq) in CROSS_ENTROPY_TERMS.items():
            table.add_row(f"ce.{name}", format_value(getattr(ce, name)), meaning, eq)


def account(
    predictions: Annotated[
        Path,
        typer.Argument(
            help=".npz with teacher, student [n_pairs, n_inputs(, k)], truth [n_inputs(, k)]; "
            "optional weights and groups [n_pairs]."
        ),
    ],
    generator: Annotated[
        GeneratorName, typer.Option(help="Bregman generator: kl, binary-kl, squared, generalized-kl, itakura-saito.")
    ] = "kl",
    independent: Annotated[
        bool, typer.Option(help="Treat teacher and student as independent (Theorem B.1).")
    ] = False,
    json_out: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Evaluate Theorem 3.1 (or B.1) exactly on sampled teacher/student predictions.

    With ``kl`` the Corollary 5.1 / Proposition 1 cross-entropy terms are added. ``kl`` also
    accepts binary probabilities of class 1 (``[n_pairs, n_inputs]``).
    """
    import numpy as np

    from w2sg.bregman import KL, BinaryKL, GeneralizedKL, ItakuraSaito, SquaredEuclidean
    from w2sg.theory.accounting import (
        account as compute_account,
        cross_entropy_accounting,
        load_predictions,
    )

    factories = {
        "kl": KL,
        "binary-kl": BinaryKL,
        "squared": SquaredEuclidean,
        "generalized-kl": GeneralizedKL,
        "itakura-saito": ItakuraSaito,
    }
    try:
        data = load_predictions(predictions)
        teacher, student, truth = data["teacher"], data["student"], data["truth"]
        options = {"weights": data["weights"], "groups": data["groups"], "independent": independent}
        ce = None
        if generator == "kl":
            ce = cross_entropy_accounting(teacher, student, truth, **options)
            acc = ce.accounting
        else:
            if generator != "binary-kl" and np.ndim(teacher) == 2:
                # Vector generators need a class axis; binary files are probabilities of class 1.
                raise ValueError(
                    f"generator {generator!r} needs teacher/student of shape [n_pairs, n_inputs, k]. Got "
                    f"{np.shape(teacher)} in {str(predictions)!r}; use --generator binary-kl or kl."
                )
            acc = compute_account(factories[generator](), teacher, student, truth, **options)
    except (ValueError, TypeError, FileNotFoundError) as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(code=2) from None

    result = {"generator": generator, "independent": independent, "accounting": acc.to_dict()}
    if ce is not None:
        ce_terms = ce.to_dict()
        ce_terms.pop("accounting")
        result["cross_entropy"] = ce_terms
    if json_out:
        typer.echo(json.dumps(result, indent=2))  # inf is written as Infinity (Python json)
        return

    from rich.console import Console
    from rich.table import Table

    label = "Theorem B.1 (independent)" if independent else "Theorem 3.1"
    table = Table(title=f"W2SG accounting, {acc.generator}, {label}: {acc.n_pairs} pairs, "
                  f"{acc.n_inputs} inputs, {acc.n_groups} groups")
    table.add_column("term")
    table.add_column("value", justify="right")
    table.add_column("meaning")
    table.add_column("equation")
    add_accounting_rows(table, acc, ce)
    Console().print(table)
