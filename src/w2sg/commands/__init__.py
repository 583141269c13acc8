"""Command implementations behind ``w2sg`` (each imports heavy libraries inside the command)."""

from __future__ import annotations

import os


def quiet_third_party_output() -> None:
    """Keep library chatter (weight-loading bars, checkpoint notes) out of the command's output.

    Set before transformers is imported; a user's own settings of these variables win.
    """
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        import transformers

        transformers.utils.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
    except (ImportError, AttributeError):
        pass
