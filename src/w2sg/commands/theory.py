"""``w2sg theory ...``: the paper's theory computed on user numbers, no training involved."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Attach the theory sub-commands (ridge, account, runs, smoothing) to ``app``."""
    from w2sg.commands.theory_account import account
    from w2sg.commands.theory_ridge import ridge
    from w2sg.commands.theory_runs import runs
    from w2sg.commands.theory_smoothing import smoothing

    app.command("ridge")(ridge)
    app.command("account")(account)
    app.command("runs")(runs)
    app.command("smoothing")(smoothing)
