"""Export a :class:`~w2sg.models.W2SModel` as a standard ``AutoModelForSequenceClassification`` directory.

Consumers (``AutoModelForSequenceClassification.from_pretrained``, TRL reward-model tooling) load it
directly. Classification exports ``num_labels=2`` with logits ``[l0, l1]`` (so ``z = l1 - l0``);
pairwise exports ``num_labels=1``: the scalar reward ``r(x)``, with ``z = r(a) - r(b)``.

Which models can be exported exactly:

* Decoders with last-token pooling (GPT-2, Llama, Qwen2, ...): ``*ForSequenceClassification`` has a
  bias-free ``score`` and reads the hidden state at the rightmost token whose id differs from
  ``config.pad_token_id`` (transformers 5.x, ``modeling_gpt2.py``). Ours reads the last position with
  attention mask 1. With right padding the two agree **unless a text's last real token equals the
  pad id** (with pad = eos: a text ending in eos), in which case transformers picks an earlier token.
  Keep eos off the end of texts (w2sg's tokenisation does not append it for GPT-2) or pick a pad
  token that never occurs in text.
* Encoders with mean pooling (BERT, MiniLM): ``BertForSequenceClassification`` applies the [CLS]
  pooler (dense + tanh) and a biased ``classifier``; it cannot express a masked mean. Exporting
  them raises ``ValueError`` unless ``allow_pooling_mismatch=True``, which writes the head into
  ``classifier`` (zero bias) with a warning: the exported logits then differ from ours.
"""

from __future__ import annotations

import copy
import os
import warnings
from pathlib import Path
from typing import Any

import torch

from w2sg.models.core import W2SModel, is_decoder_config


def export_sequence_classifier(
    model: W2SModel,
    directory: str | os.PathLike[str],
    *,
    allow_pooling_mismatch: bool = False,
) -> Path:
    """Write ``model`` as an ``AutoModelForSequenceClassification`` directory with its tokenizer.

    LoRA adapters are merged into a copy of the backbone (the model itself is left unchanged).
    The head becomes ``score.weight`` (``[num_labels, H]``, no bias); ``config.pad_token_id`` is set.

    Args:
        model: the model to export.
        directory: output directory (created; existing files are overwritten).
        allow_pooling_mismatch: export a mean-pooled encoder anyway (its logits will differ, see
            the module docstring).

    Returns:
        The output directory.

    Raises:
        TypeError: ``model`` is not a :class:`W2SModel`.
        ValueError: the pooling cannot be reproduced by the transformers class.
    """
    from transformers import AutoModelForSequenceClassification

    if not isinstance(model, W2SModel):
        raise TypeError(
            f"`model` of export_sequence_classifier must be a W2SModel. Got {type(model).__name__} instead."
        )
    out = Path(directory)
    backbone = model.backbone
    if hasattr(backbone, "merge_and_unload"):
        backbone = copy.deepcopy(backbone).merge_and_unload()
    config = copy.deepcopy(backbone.config)
    decoder = is_decoder_config(config)
    exact = decoder and model.pooling == "last"
    if not exact:
        message = (
            f"A {config.model_type!r} backbone with {model.pooling!r} pooling cannot be exported exactly: "
            f"{'the transformers class pools the last non-pad token' if decoder else 'the transformers class pools [CLS] through its pooler'}, "
            "so the exported logits would differ from W2SModel's."
        )
        if not allow_pooling_mismatch:
            raise ValueError(message + " Pass allow_pooling_mismatch=True to export anyway.")
        warnings.warn(message, stacklevel=2)

    num_labels = 2 if model.kind == "classification" else 1
    config.num_labels = num_labels
    config.pad_token_id = model.pad_token_id
    config.problem_type = "single_label_classification" if num_labels == 2 else "regression"
    config.id2label = {i: f"LABEL_{i}" for i in range(num_labels)}
    config.label2id = {v: k for k, v in config.id2label.items()}
    config.architectures = None

    classifier = AutoModelForSequenceClassification.from_config(config)
    base = getattr(classifier, classifier.base_model_prefix)
    missing, unexpected = base.load_state_dict(backbone.state_dict(), strict=False)
    missing = [k for k in missing if "pooler" not in k]
    if missing or unexpected:
        raise ValueError(
            f"The backbone's weights do not fit {type(classifier).__name__}: missing {missing[:5]}, "
            f"unexpected {unexpected[:5]}."
        )
    head = _head_layer(classifier)
    with torch.no_grad():
        head.weight.copy_(model.score.weight.detach().to(head.weight.dtype))
        if getattr(head, "bias", None) is not None:
            head.bias.zero_()
    out.mkdir(parents=True, exist_ok=True)
    classifier.save_pretrained(out)
    model.tokenizer.save_pretrained(out)
    return out


def _head_layer(classifier: Any) -> torch.nn.Linear:
    for name in ("score", "classifier"):
        layer = getattr(classifier, name, None)
        if isinstance(layer, torch.nn.Linear):
            return layer
    raise ValueError(
        f"{type(classifier).__name__} has no linear `score` or `classifier` head; it cannot be exported."
    )
