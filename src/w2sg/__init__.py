"""w2sg: weak-to-strong generalization through the Bregman bias-variance lens.

The package is layered (see ``docs/internals.md``): ``w2sg.bregman`` and ``w2sg.theory`` are pure
numpy; data, models, losses, training, pipeline, sweeps and reports build on them. Importing
``w2sg`` does no work: heavy libraries are imported by the modules that need them.
"""

__version__ = "0.1.0"
