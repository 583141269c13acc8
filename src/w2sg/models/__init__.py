"""Backbones, pooling, heads, tokenisation and export: one logit ``z`` per example (MATH.md 8.1).

Public API (imported lazily, so ``import w2sg.models`` does not import torch or transformers):

* :func:`load_model`, :class:`W2SModel`, :func:`last_token_pool`, :func:`mean_pool`
* :func:`tokenize`, :func:`collate`, :class:`Encoded`, :class:`EncodedItem`, :func:`length_grouped_batches`
* :func:`resolve_source`, :func:`convert_minilm_l3`, :data:`OFFLINE_SOURCES`
* :func:`export_sequence_classifier`
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "load_model": "core",
    "W2SModel": "core",
    "last_token_index": "core",
    "last_token_pool": "core",
    "mean_pool": "core",
    "is_decoder_config": "core",
    "tokenize": "batching",
    "collate": "batching",
    "Encoded": "batching",
    "EncodedItem": "batching",
    "length_grouped_batches": "batching",
    "resolve_source": "sources",
    "ModelSource": "sources",
    "convert_minilm_l3": "sources",
    "OFFLINE_SOURCES": "sources",
    "export_sequence_classifier": "export",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        module = importlib.import_module(f"w2sg.models.{_EXPORTS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'w2sg.models' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
