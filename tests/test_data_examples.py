"""Examples, content ids, the drop report and TaskData."""

from __future__ import annotations

import hashlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from w2sg.data import DropReport, Example, TaskData, classification_id, pair_id


def test_classification_id_is_sha1_of_canonical_json() -> None:
    payload = json.dumps(
        {"kind": "classification", "label": 1, "text": "héllo"},
        ensure_ascii=False, sort_keys=True, separators=(",", ":"),
    )
    expected = hashlib.sha1(payload.encode("utf-8")).hexdigest()[:16]
    assert classification_id("héllo", 1) == expected
    assert Example.classification("héllo", 1).id == expected


@given(st.text(), st.text())
def test_pair_id_ignores_presentation_order(chosen: str, rejected: str) -> None:
    a = Example.pair(chosen, rejected, chosen_first=True)
    b = Example.pair(chosen, rejected, chosen_first=False)
    assert a.id == b.id == pair_id(chosen, rejected)
    assert a.label == 1 and b.label == 0
    assert a.texts == (chosen, rejected) and b.texts == (rejected, chosen)
    assert a.chosen == b.chosen == chosen and a.rejected == b.rejected == rejected
    assert b.swapped() == a


@given(st.text(min_size=1), st.text(min_size=1))
def test_ids_distinguish_content(t1: str, t2: str) -> None:
    if t1 != t2:
        assert classification_id(t1, 0) != classification_id(t2, 0)
        assert pair_id(t1, t2) != pair_id(t2, t1)  # the preference direction is content
    assert classification_id(t1, 0) != classification_id(t1, 1)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"id": "", "texts": ("a",), "label": 1}, TypeError, "`id` of Example"),
        ({"id": "x", "texts": ("a", "b", "c"), "label": 1}, ValueError, "one .* or two"),
        ({"id": "x", "texts": ["a"], "label": 1}, ValueError, "`texts` of Example"),
        ({"id": "x", "texts": (1,), "label": 1}, TypeError, "must hold str"),
        ({"id": "x", "texts": ("a",), "label": 2}, ValueError, "must be 0 or 1. Got 2"),
        ({"id": "x", "texts": ("a",), "label": True}, TypeError, "int 0 or 1. Got True"),
        ({"id": "x", "texts": ("a",), "label": 1.0}, TypeError, "Got 1.0"),
    ],
)
def test_example_rejects_bad_fields(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        Example(**kwargs)


def test_pair_only_accessors_on_classification_raise() -> None:
    ex = Example.classification("a", 0)
    assert ex.kind == "classification"
    with pytest.raises(ValueError, match="pairwise examples only"):
        ex.swapped()
    with pytest.raises(ValueError, match="pairwise examples only"):
        _ = ex.chosen


def test_drop_report_counts_json_and_truncation() -> None:
    report = DropReport(rows_read=5, kept=2)
    report.drop("f.jsonl", 2, "empty_text")
    report.drop("f.jsonl", 4, "empty_text")
    report.drop("f.jsonl", 5, "too_long", "900 > max_chars=10")
    report.record_truncation(3)
    report.record_truncation(2)
    report.record_truncation(1, stage="tokenizer_b")
    assert report.counts == {"empty_text": 2, "too_long": 1}
    assert report.n_dropped == 3
    data = json.loads(report.to_json())
    assert data["counts"] == {"empty_text": 2, "too_long": 1}
    assert data["dropped"][2] == {"source": "f.jsonl", "row": 5, "reason": "too_long", "detail": "900 > max_chars=10"}
    assert data["truncated"] == {"tokenizer": 5, "tokenizer_b": 1}
    text = str(report)
    assert "empty_text: 2" in text and "f.jsonl row 5: too_long" in text and "truncated by tokenizer: 5" in text
    merged = report.merge(DropReport(rows_read=1, kept=1, truncated={"tokenizer": 1}))
    assert merged.rows_read == 6 and merged.kept == 3 and merged.truncated["tokenizer"] == 6
    with pytest.raises(ValueError, match="int >= 0. Got -1"):
        report.record_truncation(-1)


def test_task_data_checks_kind_and_unique_ids() -> None:
    a = Example.classification("a", 1)
    with pytest.raises(ValueError, match="unique ids"):
        TaskData("t", "classification", (a, a))
    with pytest.raises(ValueError, match="must all be classification"):
        TaskData("t", "classification", (a, Example.pair("x", "y", chosen_first=True)))
    with pytest.raises(ValueError, match="`kind` of TaskData"):
        TaskData("t", "regression", (a,))  # type: ignore[arg-type]
    task = TaskData("t", "classification", [a, Example.classification("b", 0), Example.classification("c", 1)])
    assert task.class_counts == {0: 1, 1: 2}
    assert task.labels.tolist() == [1, 0, 1]
