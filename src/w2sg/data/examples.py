r"""Examples, task data and the drop report shared by every data source.

An :class:`Example` holds one text (classification) or two texts (pairwise preference) and a binary
label. For a pair ``(a, b)`` the label is 1 when ``a`` is the chosen (preferred) response, so the
pairwise model's logit is :math:`z = r(a) - r(b)` (MATH.md §8.1).

Ids are content hashes, so the same content gets the same id on every run and alignment across stages
is by id, never by row order (docs/internals.md):

.. math::

    \mathrm{id}(\text{text}, y) = \mathrm{sha1}\big(\mathrm{json}(\{\text{kind}, \text{text}, y\})\big)_{[:16]},
    \qquad
    \mathrm{id}(\text{chosen}, \text{rejected}) =
        \mathrm{sha1}\big(\mathrm{json}(\{\text{kind}, \text{chosen}, \text{rejected}\})\big)_{[:16]}.

The pair id hashes the (chosen, rejected) content and not the order in which the two texts are
presented, so flipping the presentation coin (§8.1) never changes the id.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

__all__ = [
    "DropReport",
    "DroppedRow",
    "Example",
    "TaskData",
    "TaskKind",
    "classification_id",
    "pair_id",
]

logger = logging.getLogger("w2sg.data")

TaskKind = Literal["classification", "pairwise"]
TASK_KINDS: tuple[str, ...] = ("classification", "pairwise")


def _digest(payload: dict[str, Any]) -> str:
    canonical = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha1(canonical.encode("utf-8")).hexdigest()[:16]


def classification_id(text: str, label: int) -> str:
    """Content id of a one-text example: a hash of the text and the label.

    Args:
        text: the example's text.
        label: 0 or 1.

    Returns:
        16 hex characters of ``sha1`` over the canonical JSON ``{"kind", "text", "label"}``.

    Examples:
        >>> classification_id("good", 1) == classification_id("good", 1)
        True
        >>> classification_id("good", 1) == classification_id("good", 0)
        False
    """
    return _digest({"kind": "classification", "text": text, "label": int(label)})


def pair_id(chosen: str, rejected: str) -> str:
    """Content id of a preference pair, independent of the order the two texts are shown in.

    Args:
        chosen: the preferred response.
        rejected: the other response.

    Returns:
        16 hex characters of ``sha1`` over the canonical JSON ``{"kind", "chosen", "rejected"}``.

    Examples:
        >>> pair_id("a", "b") == pair_id("a", "b") != pair_id("b", "a")
        True
    """
    return _digest({"kind": "pairwise", "chosen": chosen, "rejected": rejected})


def _check_label(label: Any, owner: str) -> int:
    if isinstance(label, (bool, np.bool_)) or not isinstance(label, (int, np.integer)):
        raise TypeError(f"`label` of {owner} must be the int 0 or 1. Got {label!r} instead.")
    if int(label) not in (0, 1):
        raise ValueError(f"`label` of {owner} must be 0 or 1. Got {label!r} instead.")
    return int(label)


@dataclass(frozen=True)
class Example:
    """One labelled example: one text (classification) or two texts (pairwise).

    Attributes:
        id: stable content hash (see :func:`classification_id`, :func:`pair_id`).
        texts: ``(text,)`` or ``(a, b)``.
        label: 0 or 1; for pairs, 1 means ``a`` (``texts[0]``) is the chosen response.

    Examples:
        >>> ex = Example.pair("yes", "no", chosen_first=False)
        >>> ex.texts, ex.label, ex.chosen
        (('no', 'yes'), 0, 'yes')
        >>> ex.swapped().id == ex.id
        True
    """

    id: str
    texts: tuple[str, ...]
    label: int

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise TypeError(f"`id` of Example must be a non-empty str. Got {self.id!r} instead.")
        if not isinstance(self.texts, tuple) or len(self.texts) not in (1, 2):
            raise ValueError(
                "`texts` of Example must be a tuple of one (classification) or two (pairwise) "
                f"strings. Got {self.texts!r} instead."
            )
        for text in self.texts:
            if not isinstance(text, str):
                raise TypeError(f"`texts` of Example must hold str. Got {type(text).__name__} instead.")
        object.__setattr__(self, "label", _check_label(self.label, "Example"))

    @classmethod
    def classification(cls, text: str, label: int) -> Example:
        """Build a one-text example with its content id."""
        label = _check_label(label, "Example.classification")
        return cls(id=classification_id(text, label), texts=(text,), label=label)

    @classmethod
    def pair(cls, chosen: str, rejected: str, *, chosen_first: bool) -> Example:
        """Build a pairwise example; ``chosen_first`` decides the presentation order and the label."""
        uid = pair_id(chosen, rejected)
        if chosen_first:
            return cls(id=uid, texts=(chosen, rejected), label=1)
        return cls(id=uid, texts=(rejected, chosen), label=0)

    @property
    def kind(self) -> TaskKind:
        """``"classification"`` for one text, ``"pairwise"`` for two."""
        return "classification" if len(self.texts) == 1 else "pairwise"

    @property
    def chosen(self) -> str:
        """The preferred text of a pair."""
        self._require_pair("chosen")
        return self.texts[0] if self.label == 1 else self.texts[1]

    @property
    def rejected(self) -> str:
        """The other text of a pair."""
        self._require_pair("rejected")
        return self.texts[1] if self.label == 1 else self.texts[0]

    def swapped(self) -> Example:
        """The same pair shown in the other order (label flipped, id unchanged)."""
        self._require_pair("swapped")
        return Example(id=self.id, texts=(self.texts[1], self.texts[0]), label=1 - self.label)

    def _require_pair(self, what: str) -> None:
        if len(self.texts) != 2:
            raise ValueError(
                f"`{what}` of Example is defined for pairwise examples only. Got a classification "
                f"example (id {self.id}) instead."
            )


@dataclass(frozen=True)
class DroppedRow:
    """One dropped input row: where it came from and why it was dropped."""

    source: str
    row: int | None
    reason: str
    detail: str = ""

    def __str__(self) -> str:
        where = self.source if self.row is None else f"{self.source} row {self.row}"
        return f"{where}: {self.reason}" + (f" ({self.detail})" if self.detail else "")


@dataclass
class DropReport:
    """Counts and names every row a loader dropped, and truncations recorded by later stages.

    Rows are 1-based: for JSONL the line number, for CSV and Parquet the data-row index (the header is
    not counted), for hub datasets the row index within the split plus one.

    Attributes:
        rows_read: input rows seen.
        kept: examples kept.
        dropped: one :class:`DroppedRow` per dropped row.
        truncated: truncation counts by stage (e.g. ``{"tokenizer": 12}``), written by the
            tokenizer stage through :meth:`record_truncation`.

    Examples:
        >>> report = DropReport()
        >>> report.drop("a.jsonl", 3, "empty_text")
        >>> report.counts
        {'empty_text': 1}
        >>> report.to_dict()["n_dropped"]
        1
    """

    rows_read: int = 0
    kept: int = 0
    dropped: list[DroppedRow] = field(default_factory=list)
    truncated: dict[str, int] = field(default_factory=dict)

    def drop(self, source: str, row: int | None, reason: str, detail: str = "") -> None:
        """Record one dropped row and log it (debug level; :meth:`log_summary` logs the totals)."""
        record = DroppedRow(source=str(source), row=row, reason=reason, detail=detail)
        self.dropped.append(record)
        logger.debug("dropped %s", record)

    def record_truncation(self, count: int, *, stage: str = "tokenizer") -> None:
        """Add ``count`` truncated examples (or texts) for ``stage``.

        Raises:
            ValueError: if ``count`` is negative or not an int.
        """
        if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 0:
            raise ValueError(
                f"`count` of DropReport.record_truncation must be an int >= 0. Got {count!r} instead."
            )
        self.truncated[stage] = self.truncated.get(stage, 0) + int(count)

    @property
    def counts(self) -> dict[str, int]:
        """Dropped rows by reason."""
        return dict(Counter(d.reason for d in self.dropped))

    @property
    def n_dropped(self) -> int:
        """Total dropped rows."""
        return len(self.dropped)

    def merge(self, other: DropReport) -> DropReport:
        """A new report holding both reports' rows, drops and truncations."""
        truncated = dict(self.truncated)
        for stage, count in other.truncated.items():
            truncated[stage] = truncated.get(stage, 0) + count
        return DropReport(
            rows_read=self.rows_read + other.rows_read,
            kept=self.kept + other.kept,
            dropped=[*self.dropped, *other.dropped],
            truncated=truncated,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable view: totals, counts by reason, every dropped row, truncations."""
        return {
            "rows_read": self.rows_read,
            "kept": self.kept,
            "n_dropped": self.n_dropped,
            "counts": self.counts,
            "dropped": [
                {"source": d.source, "row": d.row, "reason": d.reason, "detail": d.detail}
                for d in self.dropped
            ],
            "truncated": dict(self.truncated),
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        """:meth:`to_dict` as a JSON string."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def log_summary(self, name: str) -> None:
        """Log one line with the totals (warning level when rows were dropped for bad data)."""
        if not self.dropped:
            logger.info("%s: kept %d of %d rows", name, self.kept, self.rows_read)
            return
        bad = {r: c for r, c in self.counts.items() if r in _BAD_DATA_REASONS}
        level = logging.WARNING if bad else logging.INFO
        logger.log(level, "%s: kept %d of %d rows; dropped %s", name, self.kept, self.rows_read, self.counts)

    def __str__(self) -> str:
        lines = [f"DropReport: read {self.rows_read} rows, kept {self.kept}, dropped {self.n_dropped}"]
        for reason, count in sorted(self.counts.items()):
            lines.append(f"  {reason}: {count}")
        for stage, count in sorted(self.truncated.items()):
            lines.append(f"  truncated by {stage}: {count}")
        shown = self.dropped[:10]
        for record in shown:
            lines.append(f"    {record}")
        if self.n_dropped > len(shown):
            lines.append(f"    ... and {self.n_dropped - len(shown)} more")
        return "\n".join(lines)


# Reasons that point at a problem in the data (as opposed to filtering or balancing by design).
_BAD_DATA_REASONS = frozenset({"empty_text", "identical_pair", "too_long", "duplicate", "conflicting_labels"})


@dataclass(frozen=True)
class TaskData:
    """A loaded task: its examples, their kind and the report of what was dropped.

    Attributes:
        name: task name or file path it came from.
        kind: ``"classification"`` or ``"pairwise"``.
        examples: the examples, ids unique.
        report: the :class:`DropReport` of the loading.
    """

    name: str
    kind: TaskKind
    examples: tuple[Example, ...]
    report: DropReport = field(default_factory=DropReport, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in TASK_KINDS:
            raise ValueError(f"`kind` of TaskData must be one of {TASK_KINDS}. Got {self.kind!r} instead.")
        object.__setattr__(self, "examples", tuple(self.examples))
        seen: set[str] = set()
        for ex in self.examples:
            if not isinstance(ex, Example):
                raise TypeError(f"`examples` of TaskData must hold Example. Got {type(ex).__name__} instead.")
            if ex.kind != self.kind:
                raise ValueError(
                    f"`examples` of TaskData {self.name!r} must all be {self.kind}. "
                    f"Got a {ex.kind} example (id {ex.id}) instead."
                )
            if ex.id in seen:
                raise ValueError(f"`examples` of TaskData {self.name!r} must have unique ids. Got {ex.id} twice.")
            seen.add(ex.id)

    def __len__(self) -> int:
        return len(self.examples)

    @property
    def labels(self) -> np.ndarray:
        """Labels as an int64 array aligned with :attr:`examples`."""
        return np.fromiter((ex.label for ex in self.examples), dtype=np.int64, count=len(self.examples))

    @property
    def class_counts(self) -> dict[int, int]:
        """Number of examples per label, ``{0: n0, 1: n1}``."""
        n1 = int(self.labels.sum())
        return {0: len(self.examples) - n1, 1: n1}
