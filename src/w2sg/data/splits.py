r"""Class-balanced, disjoint, seed-resampled splits (MATH.md §7.6, §8.2–8.3).

A split of size :math:`n` holds :math:`\lfloor n/2\rfloor` examples of one class and
:math:`\lceil n/2\rceil` of the other; the class that gets the extra example alternates over the
odd-sized splits (first class 1, then class 0, ...), so the union stays as balanced as possible.
Selection shuffles each class with ``numpy.random.default_rng(seed)`` and takes consecutive blocks,
so every seed resamples the documents (openai/weak-to-strong kept them fixed) and splits never
overlap. Ids are kept, so later stages align by id.

For pairwise examples the class is only the order in which the two texts are shown, so every pair is
eligible for either class: pairs are drawn at random and then oriented (:meth:`Example.swapped`, id
unchanged) so that each split holds exactly :math:`\lfloor n/2\rfloor`/:math:`\lceil n/2\rceil`
pairs with the chosen text first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from w2sg.data.examples import Example, TaskData
from w2sg.data.sources import LOCAL_SUFFIXES, check_seed

__all__ = ["DisjointSubsets", "Splits", "disjoint_subsets", "halve", "load_splits", "split_task"]

SPLIT_NAMES: tuple[str, str, str] = ("weak", "w2s", "test")
PRESPLIT_FILES: dict[str, str] = {"weak": "train_gt", "w2s": "train_w2s", "test": "test"}


@dataclass(frozen=True)
class Splits:
    """The three disjoint splits of one experiment.

    Attributes:
        weak: :math:`D_w`, ground truth for the weak teacher.
        w2s: :math:`D_s`, labelled by the teacher for the strong student.
        test: :math:`D_{test}`.
    """

    weak: tuple[Example, ...]
    w2s: tuple[Example, ...]
    test: tuple[Example, ...]

    def as_dict(self) -> dict[str, tuple[Example, ...]]:
        """``{"weak": ..., "w2s": ..., "test": ...}``."""
        return {"weak": self.weak, "w2s": self.w2s, "test": self.test}

    @property
    def sizes(self) -> dict[str, int]:
        """Number of examples per split."""
        return {name: len(part) for name, part in self.as_dict().items()}


class DisjointSubsets(NamedTuple):
    """The result of :func:`disjoint_subsets`: unpacks as ``subsets, rest = ...``.

    Attributes:
        subsets: the :math:`N` disjoint class-balanced subsets.
        rest: every input example in no subset, in input order (e.g. the pool for a test set).
    """

    subsets: tuple[tuple[Example, ...], ...]
    rest: tuple[Example, ...]


# --------------------------------------------------------------------------------------------------
# Validation


def _as_examples(examples: Any, owner: str) -> tuple[Example, ...]:
    if isinstance(examples, TaskData):
        examples = examples.examples
    if isinstance(examples, (str, bytes)) or not isinstance(examples, Iterable):
        raise TypeError(f"`examples` of {owner} must be a sequence of Example or a TaskData. Got {type(examples).__name__}.")
    examples = tuple(examples)
    if not examples:
        raise ValueError(f"`examples` of {owner} must not be empty. Got 0 examples.")
    kinds = set()
    seen: set[str] = set()
    for ex in examples:
        if not isinstance(ex, Example):
            raise TypeError(f"`examples` of {owner} must hold Example. Got {type(ex).__name__} instead.")
        if ex.id in seen:
            raise ValueError(f"`examples` of {owner} must have unique ids. Got id {ex.id} twice.")
        seen.add(ex.id)
        kinds.add(ex.kind)
    if len(kinds) > 1:
        raise ValueError(f"`examples` of {owner} must be all classification or all pairwise. Got both.")
    return examples


def _check_size(value: Any, name: str, owner: str, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"`{name}` of {owner} must be an int >= {minimum}. Got {value!r} instead.")
    return int(value)


# --------------------------------------------------------------------------------------------------
# Core: draw disjoint balanced blocks


def _quotas(sizes: Sequence[int]) -> list[tuple[int, int]]:
    """Per-class counts ``(n0, n1)`` per block; the odd block's extra alternates, starting with class 1."""
    out = []
    extra_class = 1
    for n in sizes:
        n0 = n1 = n // 2
        if n % 2:
            if extra_class == 1:
                n1 += 1
            else:
                n0 += 1
            extra_class = 1 - extra_class
        out.append((n0, n1))
    return out


def _draw_blocks(
    examples: tuple[Example, ...],
    sizes: Sequence[int],
    rng: np.random.Generator,
    *,
    owner: str,
    describe: str,
) -> list[tuple[Example, ...]]:
    """Disjoint class-balanced blocks of the given sizes, each in random order."""
    quotas = _quotas(sizes)
    if examples[0].kind == "pairwise":
        need = sum(sizes)
        if need > len(examples):
            raise ValueError(
                f"{owner} needs {need} pairs ({describe}) but the examples hold only {len(examples)}."
            )
        order = rng.permutation(len(examples))
        blocks: list[list[Example]] = []
        start = 0
        for n, (_, n1) in zip(sizes, quotas, strict=True):
            picked = [examples[i] for i in order[start : start + n]]
            start += n
            # Orient: a random n1 of the picked pairs show the chosen text first (label 1).
            first = np.zeros(n, dtype=bool)
            first[rng.permutation(n)[:n1]] = True
            blocks.append([ex if (ex.label == 1) == f else ex.swapped() for ex, f in zip(picked, first, strict=True)])
    else:
        labels = np.fromiter((ex.label for ex in examples), dtype=np.int64, count=len(examples))
        pools = {c: rng.permutation(np.flatnonzero(labels == c)) for c in (0, 1)}
        for c in (0, 1):
            need = sum(q[c] for q in quotas)
            if need > len(pools[c]):
                raise ValueError(
                    f"{owner} needs {need} examples of class {c} ({describe}) but the examples hold only "
                    f"{len(pools[c])} of class {c} (class counts: 0: {len(pools[0])}, 1: {len(pools[1])})."
                )
        starts = {0: 0, 1: 0}
        blocks = []
        for quota in quotas:
            block = []
            for c in (0, 1):
                block.extend(examples[i] for i in pools[c][starts[c] : starts[c] + quota[c]])
                starts[c] += quota[c]
            blocks.append(block)
    # Random order inside each block, so the classes are interleaved.
    return [tuple(block[i] for i in rng.permutation(len(block))) for block in blocks]


# --------------------------------------------------------------------------------------------------
# Public API


def split_task(
    examples: Sequence[Example] | TaskData,
    *,
    n_weak: int,
    n_w2s: int,
    n_test: int,
    seed: int,
) -> Splits:
    r"""Disjoint, class-balanced weak / W2S / test splits, resampled per seed (MATH.md §8.2–8.3).

    Each class :math:`c` is shuffled with ``numpy.random.default_rng(seed)`` and cut into consecutive
    blocks of :math:`n_c` examples per split, :math:`n_c\in\{\lfloor n/2\rfloor,\lceil n/2\rceil\}`;
    pairs are drawn regardless of label and oriented to the same counts (module docstring).

    Args:
        examples: the pool (a sequence of :class:`Example` or a :class:`TaskData`), ids unique.
        n_weak: :math:`|D_w|`, e.g. 5,000 for Amazon Polarity (Table 2).
        n_w2s: :math:`|D_s|`.
        n_test: :math:`|D_{test}|`.
        seed: resampling seed (int >= 0).

    Returns:
        :class:`Splits`, each split in random order.

    Raises:
        ValueError: if a class has too few examples (naming the class and both counts), or for bad sizes.

    Examples:
        >>> pool = [Example.classification(f"t{i}", i % 2) for i in range(10)]
        >>> s = split_task(pool, n_weak=4, n_w2s=3, n_test=2, seed=0)
        >>> s.sizes, sum(ex.label for ex in s.weak)
        ({'weak': 4, 'w2s': 3, 'test': 2}, 2)
    """
    owner = "split_task"
    pool = _as_examples(examples, owner)
    sizes = [_check_size(n, name, owner) for n, name in zip((n_weak, n_w2s, n_test), ("n_weak", "n_w2s", "n_test"), strict=True)]
    rng = np.random.default_rng(check_seed(seed))
    describe = f"n_weak={sizes[0]}, n_w2s={sizes[1]}, n_test={sizes[2]}"
    weak, w2s, test = _draw_blocks(pool, sizes, rng, owner=owner, describe=describe)
    return Splits(weak=weak, w2s=w2s, test=test)


def disjoint_subsets(
    examples: Sequence[Example] | TaskData,
    *,
    n_subsets: int,
    subset_size: int,
    seed: int,
) -> DisjointSubsets:
    """``n_subsets`` disjoint class-balanced subsets for the bias–variance estimate (MATH.md §7.6).

    Algorithm 1 draws :math:`N` disjoint subsets (Amazon: 5 × 10,000; Twitter: 3 × 14,000) and halves
    each (:func:`halve`) into teacher and W2S parts.

    Args:
        examples: the pool, ids unique.
        n_subsets: :math:`N \\ge 1`.
        subset_size: examples per subset (>= 2).
        seed: resampling seed.

    Returns:
        :class:`DisjointSubsets` ``(subsets, rest)``: ``n_subsets`` subsets, each a tuple of examples
        in random order, and the examples left over (input order), from which a disjoint test set can
        be drawn.

    Examples:
        >>> pool = [Example.classification(f"t{i}", i % 2) for i in range(14)]
        >>> subsets, rest = disjoint_subsets(pool, n_subsets=3, subset_size=4, seed=0)
        >>> [len(s) for s in subsets], len(rest)
        ([4, 4, 4], 2)
    """
    owner = "disjoint_subsets"
    pool = _as_examples(examples, owner)
    n_subsets = _check_size(n_subsets, "n_subsets", owner, minimum=1)
    subset_size = _check_size(subset_size, "subset_size", owner, minimum=2)
    rng = np.random.default_rng(check_seed(seed))
    describe = f"n_subsets={n_subsets} x subset_size={subset_size}"
    subsets = tuple(_draw_blocks(pool, [subset_size] * n_subsets, rng, owner=owner, describe=describe))
    used = {ex.id for subset in subsets for ex in subset}
    return DisjointSubsets(subsets=subsets, rest=tuple(ex for ex in pool if ex.id not in used))


def halve(subset: Sequence[Example], seed: int) -> tuple[tuple[Example, ...], tuple[Example, ...]]:
    """Split a subset into two class-balanced halves: teacher :math:`D_w^{(j)}` and W2S :math:`D_s^{(j)}`.

    Each class is shuffled with ``numpy.random.default_rng(seed)`` and cut in two. If a class has an
    odd count, the first such class (in the order 0, 1) gives its extra example to the second half and
    the next one to the first half, so an even-sized subset gives two halves of equal size. Labels are
    kept as they are.

    Args:
        subset: examples (ids unique), e.g. one of :func:`disjoint_subsets`.
        seed: seed of the shuffle.

    Returns:
        ``(teacher_half, w2s_half)``, each in random order.

    Examples:
        >>> pool = [Example.classification(f"t{i}", i % 2) for i in range(10)]
        >>> a, b = halve(pool, 0)
        >>> len(a), len(b), {ex.id for ex in a} & {ex.id for ex in b}
        (5, 5, set())
    """
    owner = "halve"
    pool = _as_examples(subset, owner)
    if len(pool) < 2:
        raise ValueError(f"`subset` of halve must hold at least 2 examples. Got {len(pool)} instead.")
    rng = np.random.default_rng(check_seed(seed))
    labels = np.fromiter((ex.label for ex in pool), dtype=np.int64, count=len(pool))
    first: list[Example] = []
    second: list[Example] = []
    extra_to_second = True
    for c in (0, 1):
        idx = rng.permutation(np.flatnonzero(labels == c))
        cut = len(idx) // 2
        if len(idx) % 2:
            cut += 0 if extra_to_second else 1
            extra_to_second = not extra_to_second
        first.extend(pool[i] for i in idx[:cut])
        second.extend(pool[i] for i in idx[cut:])
    return (
        tuple(first[i] for i in rng.permutation(len(first))),
        tuple(second[i] for i in rng.permutation(len(second))),
    )


def _resolve_presplit(source: str | Path | Mapping[str, str | Path]) -> dict[str, Path]:
    if isinstance(source, Mapping):
        missing = [name for name in SPLIT_NAMES if name not in source]
        extra = [name for name in source if name not in SPLIT_NAMES]
        if missing or extra:
            raise ValueError(
                f"`source` of load_splits must map exactly {list(SPLIT_NAMES)} to files. "
                f"Got keys {list(source)} instead."
            )
        return {name: Path(source[name]) for name in SPLIT_NAMES}
    directory = Path(source)
    if not directory.is_dir():
        raise FileNotFoundError(
            f"`source` of load_splits must be a directory holding train_gt/train_w2s/test files or a "
            f"mapping of {list(SPLIT_NAMES)} to files. Got {str(directory)!r} (not a directory)."
        )
    files: dict[str, Path] = {}
    for name, stem in PRESPLIT_FILES.items():
        found = [directory / f"{stem}{suffix}" for suffix in LOCAL_SUFFIXES if (directory / f"{stem}{suffix}").is_file()]
        if len(found) != 1:
            present = sorted(p.name for p in directory.iterdir())
            raise FileNotFoundError(
                f"{directory}: expected exactly one of {[stem + s for s in LOCAL_SUFFIXES]} for the {name!r} "
                f"split. Found {present}."
            )
        files[name] = found[0]
    return files


def load_splits(
    source: str | Path | Mapping[str, str | Path],
    *,
    n_weak: int | None,
    n_w2s: int | None,
    n_test: int | None,
    seed: int,
    **load_options: Any,
) -> Splits:
    """Splits from pre-split files, each subsampled to its size per seed, class-balanced.

    Yang et al. 2025's reward-model data (MATH.md §8.2) comes as ``train_gt`` (teacher, 4,000 pairs),
    ``train_w2s`` (W2S, 4,000) and ``test`` (4,000); they map to ``weak``, ``w2s`` and ``test``.

    Args:
        source: a directory with ``train_gt``, ``train_w2s`` and ``test`` files (``.jsonl``, ``.csv`` or
            ``.parquet``), or a mapping ``{"weak": path, "w2s": path, "test": path}``.
        n_weak: size of the weak split; ``None`` takes the largest balanced sample of its file (all
            pairs for pairwise data).
        n_w2s: size of the W2S split (or ``None``).
        n_test: size of the test split (or ``None``).
        seed: seed of the pair coin and of the subsampling.
        **load_options: passed to :func:`w2sg.data.sources.load_local` (``max_chars``, ``label_map``...).

    Returns:
        :class:`Splits`. To see what each file's loading dropped, use :func:`load_split_tasks`.

    Raises:
        ValueError: if the files share examples, or a file has too few examples of a class.
    """
    tasks = load_split_tasks(source, seed=seed, **load_options)
    rng = np.random.default_rng(check_seed(seed))
    parts = []
    for name, n in zip(SPLIT_NAMES, (n_weak, n_w2s, n_test), strict=True):
        pool = tasks[name].examples
        if not pool:
            raise ValueError(f"{tasks[name].name}: no examples left after dropping bad rows.")
        if n is None:
            counts = tasks[name].class_counts
            n = len(pool) if pool[0].kind == "pairwise" else 2 * min(counts.values())
        n = _check_size(n, f"n_{name}", "load_splits")
        (part,) = _draw_blocks(pool, [n], rng, owner="load_splits", describe=f"n_{name}={n} from {tasks[name].name}")
        parts.append(part)
    return Splits(*parts)


def load_split_tasks(
    source: str | Path | Mapping[str, str | Path], *, seed: int = 0, **load_options: Any
) -> dict[str, TaskData]:
    """Load the three pre-split files as tasks (reports included) and check they are disjoint.

    Raises:
        ValueError: if two files share an example id.
    """
    from w2sg.data.tasks import load_task

    files = _resolve_presplit(source)
    tasks = {name: load_task(path, seed=check_seed(seed), **load_options) for name, path in files.items()}
    for i, a in enumerate(SPLIT_NAMES):
        for b in SPLIT_NAMES[i + 1 :]:
            shared = {ex.id for ex in tasks[a].examples} & {ex.id for ex in tasks[b].examples}
            if shared:
                raise ValueError(
                    f"load_splits: {files[a]} and {files[b]} share {len(shared)} example(s) (e.g. id "
                    f"{sorted(shared)[0]}); pre-split files must be disjoint."
                )
    return tasks
