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
    pretty_exceptions_show_locals=False,
)
theory_app = typer.Typer(help="The paper's theory on your own numbers.", no_args_is_help=True)
app.add_typer(theory_app, name="theory")


def _register() -> None:
    from w2sg.commands import theory as theory_commands
    from w2sg.commands.report import report
    from w2sg.commands.run import run
    from w2sg.commands.sweep import sweep

    app.command("run")(run)
    app.command("sweep")(sweep)
    app.command("report")(report)
    theory_commands.register(theory_app)


_register()

if __name__ == "__main__":
    app()
