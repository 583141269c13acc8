"""Tokenisation, dynamic padding and length-grouped batching.

Texts are truncated from the left by default (the paper keeps the end of a long context, MATH.md
8.3: "left-truncation to the max context"), so the last token, whose hidden state a decoder's head
reads (MATH.md 8.1), is always the real end of the text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np


class _HasTexts(Protocol):
    id: str
    texts: tuple[str, ...]
    label: int


@dataclass(frozen=True)
class EncodedItem:
    """One tokenised example: token ids for each of its texts (one or two)."""

    id: str
    input_ids: tuple[list[int], ...]
    label: int


@dataclass(frozen=True)
class Encoded:
    """Tokenised examples, aligned with the input list.

    Attributes:
        items: one :class:`EncodedItem` per example.
        n_truncated: number of texts (not examples) that were cut to ``max_length``.
        max_length: the limit used.
        truncation_side: ``"left"`` or ``"right"``.
    """

    items: tuple[EncodedItem, ...]
    n_truncated: int
    max_length: int
    truncation_side: str

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> EncodedItem:
        return self.items[index]

    @property
    def lengths(self) -> list[int]:
        """Per example, the longest of its texts in tokens (what padding costs)."""
        return [max(len(ids) for ids in item.input_ids) for item in self.items]


def _get_tokenizer(model_or_tokenizer: Any) -> Any:
    tokenizer = getattr(model_or_tokenizer, "tokenizer", model_or_tokenizer)
    if not callable(tokenizer) or not hasattr(tokenizer, "convert_tokens_to_ids"):
        raise TypeError(
            "`model_or_tokenizer` of tokenize must be a W2SModel or a Hugging Face tokenizer. "
            f"Got {type(model_or_tokenizer).__name__} instead."
        )
    return tokenizer


def tokenize(
    model_or_tokenizer: Any,
    examples: Sequence[_HasTexts],
    *,
    max_length: int,
    truncation_side: Literal["left", "right"] = "left",
) -> Encoded:
    """Tokenise every text of every example, truncating each text to ``max_length`` tokens.

    Special tokens (e.g. BERT's ``[CLS]``/``[SEP]``) are added and kept: truncation removes text
    tokens only. The texts of a pair are encoded separately (MATH.md 8.1: ``r(a)`` and ``r(b)``
    are scored by the same backbone).

    Args:
        model_or_tokenizer: a :class:`~w2sg.models.W2SModel` (its ``.tokenizer`` is used) or a tokenizer.
        examples: objects with ``.id``, ``.texts`` (1 or 2 strings) and ``.label``.
        max_length: maximum tokens per text, including special tokens; at least 2.
        truncation_side: ``"left"`` keeps the end of the text (default), ``"right"`` the start.

    Returns:
        :class:`Encoded` with ``n_truncated`` counting the texts that were cut.

    Raises:
        TypeError: a wrong tokenizer or example type.
        ValueError: bad ``max_length``/``truncation_side``, an example with no or more than two texts,
            or examples mixing one- and two-text layouts.
    """
    tokenizer = _get_tokenizer(model_or_tokenizer)
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 2:
        raise ValueError(f"`max_length` of tokenize must be an int >= 2. Got {max_length!r} instead.")
    if truncation_side not in ("left", "right"):
        raise ValueError(
            f"`truncation_side` of tokenize must be 'left' or 'right'. Got {truncation_side!r} instead."
        )
    n_texts = None
    flat: list[str] = []
    for row, example in enumerate(examples):
        texts = getattr(example, "texts", None)
        if not isinstance(texts, tuple) or not all(isinstance(t, str) for t in texts):
            raise TypeError(
                f"`examples[{row}].texts` of tokenize must be a tuple of str. Got {texts!r} instead."
            )
        if len(texts) not in (1, 2):
            raise ValueError(
                f"`examples[{row}].texts` of tokenize must hold 1 or 2 texts. Got {len(texts)} instead."
            )
        if n_texts is None:
            n_texts = len(texts)
        elif len(texts) != n_texts:
            raise ValueError(
                f"`examples` of tokenize must all have the same number of texts; example 0 has "
                f"{n_texts}, example {row} (id {getattr(example, 'id', '?')!r}) has {len(texts)}."
            )
        flat.extend(texts)
    if not flat:
        return Encoded((), 0, max_length, truncation_side)

    full = tokenizer(flat, add_special_tokens=True, truncation=False, verbose=False)["input_ids"]
    long = [i for i, ids in enumerate(full) if len(ids) > max_length]
    if long:
        old_side = tokenizer.truncation_side
        tokenizer.truncation_side = truncation_side
        try:
            cut = tokenizer([flat[i] for i in long], add_special_tokens=True, truncation=True,
                            max_length=max_length)["input_ids"]
        finally:
            tokenizer.truncation_side = old_side
        for i, ids in zip(long, cut):
            full[i] = ids
    items = []
    for row, example in enumerate(examples):
        ids = tuple(list(full[row * n_texts + j]) for j in range(n_texts))
        items.append(EncodedItem(str(example.id), ids, int(example.label)))
    return Encoded(tuple(items), len(long), max_length, truncation_side)


def _pad(sequences: Sequence[Sequence[int]], pad_token_id: int, length: int):
    import torch

    ids = torch.full((len(sequences), length), pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), length), dtype=torch.long)
    for row, seq in enumerate(sequences):
        ids[row, : len(seq)] = torch.as_tensor(list(seq), dtype=torch.long)
        mask[row, : len(seq)] = 1
    return ids, mask


def collate(encoded_items: Sequence[EncodedItem], pad_token_id: int) -> dict[str, Any]:
    """Pad a batch on the right to its own longest text (dynamic padding).

    The attention mask, not the pad id, marks the real tokens: GPT-2's pad is a real token
    ("!" is id 0, and pad is often set to eos), so nothing downstream may look for pad ids.

    Args:
        encoded_items: items of an :class:`Encoded` (all one-text or all two-text).
        pad_token_id: id written into padded positions.

    Returns:
        ``input_ids`` and ``attention_mask`` (``[B, T]``, int64); for pairs also ``input_ids_b``
        and ``attention_mask_b``. Both texts of a pair are padded to one common length ``T``.

    Raises:
        ValueError: an empty batch, an empty text, or mixed one-/two-text items.
        TypeError: ``pad_token_id`` is not an int.
    """
    if isinstance(pad_token_id, bool) or not isinstance(pad_token_id, (int, np.integer)):
        raise TypeError(f"`pad_token_id` of collate must be an int. Got {pad_token_id!r} instead.")
    items = list(encoded_items)
    if not items:
        raise ValueError("`encoded_items` of collate must be a non-empty sequence. Got 0 items instead.")
    n_texts = len(items[0].input_ids)
    for row, item in enumerate(items):
        if len(item.input_ids) != n_texts:
            raise ValueError(
                f"`encoded_items` of collate must all have {n_texts} text(s). Item {row} "
                f"(id {item.id!r}) has {len(item.input_ids)}."
            )
        if any(len(ids) == 0 for ids in item.input_ids):
            raise ValueError(
                f"`encoded_items[{row}]` (id {item.id!r}) of collate has an empty text; every text "
                "needs at least one token."
            )
    length = max(len(ids) for item in items for ids in item.input_ids)
    input_ids, attention_mask = _pad([item.input_ids[0] for item in items], int(pad_token_id), length)
    batch = {"input_ids": input_ids, "attention_mask": attention_mask}
    if n_texts == 2:
        ids_b, mask_b = _pad([item.input_ids[1] for item in items], int(pad_token_id), length)
        batch["input_ids_b"] = ids_b
        batch["attention_mask_b"] = mask_b
    return batch


def length_grouped_batches(
    lengths: Sequence[int],
    batch_size: int,
    seed: int,
    *,
    epoch: int = 0,
    mega_batch_mult: int = 50,
) -> list[list[int]]:
    """Batches of indices with similar lengths, reshuffled every epoch.

    As Hugging Face's ``LengthGroupedSampler``: shuffle all indices, cut them into mega-batches
    of ``mega_batch_mult * batch_size``, sort each mega-batch by length (longest first) and cut it
    into batches. The order of the batches is then shuffled too, so training does not see long
    batches first within every mega-batch. The shuffles use ``numpy.random.default_rng([seed, epoch])``.

    Args:
        lengths: token length of each example (non-negative ints).
        batch_size: examples per batch (the last batch of a mega-batch may be smaller).
        seed: base seed.
        epoch: epoch number; each epoch gives a different grouping.
        mega_batch_mult: mega-batch size in batches.

    Returns:
        A list of batches; together they are a partition of ``range(len(lengths))``.

    Raises:
        ValueError: non-positive ``batch_size``/``mega_batch_mult``, negative lengths or epoch.

    Examples:
        >>> batches = length_grouped_batches([5, 1, 4, 2], 2, seed=0, mega_batch_mult=2)
        >>> sorted(sorted(b) for b in batches)
        [[0, 2], [1, 3]]
    """
    for name, value, low in (("batch_size", batch_size, 1), ("mega_batch_mult", mega_batch_mult, 1),
                             ("epoch", epoch, 0)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(
                f"`{name}` of length_grouped_batches must be an int >= {low}. Got {value!r} instead."
            )
    lens = np.asarray(list(lengths))
    if lens.size == 0:
        return []
    if lens.ndim != 1 or not np.issubdtype(lens.dtype, np.integer) or lens.min() < 0:
        raise ValueError(
            "`lengths` of length_grouped_batches must be a 1-D sequence of non-negative ints. "
            f"Got dtype {lens.dtype}, shape {lens.shape} instead."
        )
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, int(epoch)])
    order = rng.permutation(lens.size)
    mega = int(mega_batch_mult) * int(batch_size)
    batches: list[list[int]] = []
    for start in range(0, lens.size, mega):
        chunk = order[start : start + mega]
        # Stable sort, longest first (ties keep the shuffled order).
        chunk = chunk[np.argsort(-lens[chunk], kind="stable")]
        batches.extend(chunk[i : i + batch_size].tolist() for i in range(0, chunk.size, batch_size))
    perm = rng.permutation(len(batches))
    return [batches[i] for i in perm]
