"""The ``w2sg`` command-line program.

Sub-commands live in ``w2sg.commands``; each imports its heavy dependencies inside the command so
that ``w2sg --help`` is instant.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="w2sg",
    help="Weak-to-strong generalization: theory, experiments and reports.",
    no_args_is_help=True,
    add_completion=False,
)
theory_app = typer.Typer(help="The paper's theory on your own numbers (no training).", no_args_is_help=True)
app.add_typer(theory_app, name="theory")


def _register() -> None:
    from w2sg.commands import theory as theory_commands

    theory_commands.register(theory_app)


_register()

if __name__ == "__main__":
    app()
