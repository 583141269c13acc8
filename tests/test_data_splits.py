"""Splits: disjoint, class-balanced, resampled per seed; subsets and halves; pre-split files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from w2sg.data import Example, Splits, TaskData, disjoint_subsets, halve, load_split_tasks, load_splits, split_task


def pool(n0: int, n1: int) -> list[Example]:
    return [Example.classification(f"neg {i}", 0) for i in range(n0)] + [
        Example.classification(f"pos {i}", 1) for i in range(n1)
    ]


def pairs(n: int, *, n_first: int | None = None) -> list[Example]:
    n_first = n if n_first is None else n_first
    return [Example.pair(f"good {i}", f"bad {i}", chosen_first=i < n_first) for i in range(n)]


def balanced(part: tuple[Example, ...]) -> bool:
    ones = sum(ex.label for ex in part)
    return ones in (len(part) // 2, len(part) - len(part) // 2)


sizes = st.integers(min_value=0, max_value=30)


@settings(max_examples=60, deadline=None)
@given(n_weak=sizes, n_w2s=sizes, n_test=sizes, extra0=st.integers(0, 10), extra1=st.integers(0, 10), seed=st.integers(0, 2**32 - 1))
def test_split_task_disjoint_balanced_sized(n_weak: int, n_w2s: int, n_test: int, extra0: int, extra1: int, seed: int) -> None:
    need = (n_weak + n_w2s + n_test) // 2 + 2
    examples = pool(need + extra0, need + extra1)
    splits = split_task(examples, n_weak=n_weak, n_w2s=n_w2s, n_test=n_test, seed=seed)
    assert splits.sizes == {"weak": n_weak, "w2s": n_w2s, "test": n_test}
    ids = [ex.id for part in splits.as_dict().values() for ex in part]
    assert len(ids) == len(set(ids))
    assert set(ids) <= {ex.id for ex in examples}
    assert all(balanced(part) for part in splits.as_dict().values())
    # The odd splits' extras alternate between the classes: the union is balanced within one.
    union = tuple(ex for part in splits.as_dict().values() for ex in part)
    assert balanced(union)


@settings(max_examples=40, deadline=None)
@given(n_weak=sizes, n_w2s=sizes, n_test=sizes, n_first=st.integers(0, 100), seed=st.integers(0, 1000))
def test_split_task_pairs_are_oriented_to_balance(n_weak: int, n_w2s: int, n_test: int, n_first: int, seed: int) -> None:
    examples = pairs(100, n_first=n_first)  # any label mix: pairs are re-oriented
    by_id = {ex.id: ex for ex in examples}
    splits = split_task(examples, n_weak=n_weak, n_w2s=n_w2s, n_test=n_test, seed=seed)
    for part in splits.as_dict().values():
        assert balanced(part)
        for ex in part:
            original = by_id[ex.id]
            assert (ex.chosen, ex.rejected) == (original.chosen, original.rejected)
            assert ex in (original, original.swapped())


def test_split_task_deterministic_per_seed_and_differs_across_seeds() -> None:
    examples = pool(300, 300)
    a = split_task(examples, n_weak=100, n_w2s=100, n_test=50, seed=7)
    b = split_task(examples, n_weak=100, n_w2s=100, n_test=50, seed=7)
    c = split_task(examples, n_weak=100, n_w2s=100, n_test=50, seed=8)
    assert a == b
    for name in ("weak", "w2s", "test"):
        assert {ex.id for ex in a.as_dict()[name]} != {ex.id for ex in c.as_dict()[name]}
    # Classes are interleaved, not sorted.
    labels = [ex.label for ex in a.weak]
    assert labels != sorted(labels)


def test_split_task_not_enough_names_class_and_counts() -> None:
    with pytest.raises(ValueError, match=r"needs 6 examples of class 1 .*only 4 of class 1 \(class counts: 0: 50, 1: 4\)"):
        split_task(pool(50, 4), n_weak=4, n_w2s=4, n_test=4, seed=0)
    with pytest.raises(ValueError, match=r"needs 12 pairs .*only 10"):
        split_task(pairs(10), n_weak=4, n_w2s=4, n_test=4, seed=0)


def test_split_task_validation() -> None:
    examples = pool(10, 10)
    with pytest.raises(ValueError, match="`n_weak` of split_task must be an int >= 0. Got -1"):
        split_task(examples, n_weak=-1, n_w2s=1, n_test=1, seed=0)
    with pytest.raises(ValueError, match="`n_test` of split_task must be an int >= 0. Got 2.5"):
        split_task(examples, n_weak=1, n_w2s=1, n_test=2.5, seed=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="`seed` must be an int >= 0"):
        split_task(examples, n_weak=1, n_w2s=1, n_test=1, seed=-3)
    with pytest.raises(ValueError, match="must not be empty"):
        split_task([], n_weak=0, n_w2s=0, n_test=0, seed=0)
    with pytest.raises(ValueError, match="unique ids"):
        split_task([examples[0], examples[0]], n_weak=0, n_w2s=0, n_test=0, seed=0)
    with pytest.raises(ValueError, match="all classification or all pairwise"):
        split_task([examples[0], *pairs(1)], n_weak=0, n_w2s=0, n_test=0, seed=0)
    with pytest.raises(TypeError, match="sequence of Example"):
        split_task("abc", n_weak=0, n_w2s=0, n_test=0, seed=0)  # type: ignore[arg-type]
    task = TaskData("t", "classification", tuple(examples))
    assert split_task(task, n_weak=2, n_w2s=2, n_test=2, seed=0) == split_task(examples, n_weak=2, n_w2s=2, n_test=2, seed=0)


@settings(max_examples=40, deadline=None)
@given(n_subsets=st.integers(1, 5), subset_size=st.integers(2, 20), seed=st.integers(0, 1000))
def test_disjoint_subsets_and_halves(n_subsets: int, subset_size: int, seed: int) -> None:
    per_class = n_subsets * (subset_size // 2 + 1)
    examples = pool(per_class, per_class + 3)
    subsets, rest = disjoint_subsets(examples, n_subsets=n_subsets, subset_size=subset_size, seed=seed)
    assert len(subsets) == n_subsets
    ids = [ex.id for s in subsets for ex in s]
    assert len(ids) == len(set(ids))
    # The rest is exactly what no subset uses, in input order.
    assert [ex.id for ex in rest] == [ex.id for ex in examples if ex.id not in set(ids)]
    for subset in subsets:
        assert len(subset) == subset_size and balanced(subset)
        teacher, w2s = halve(subset, seed)
        assert {ex.id for ex in teacher} | {ex.id for ex in w2s} == {ex.id for ex in subset}
        assert not {ex.id for ex in teacher} & {ex.id for ex in w2s}
        assert abs(len(teacher) - len(w2s)) <= 1
        for half in (teacher, w2s):
            ones = sum(ex.label for ex in half)
            assert abs(2 * ones - len(half)) <= 2  # within one example of balance per class
        if subset_size % 2 == 0:
            assert len(teacher) == len(w2s) == subset_size // 2


def test_halve_odd_classes_give_equal_halves_and_seed_matters() -> None:
    subset = tuple(pool(5, 5))
    a, b = halve(subset, 0)
    assert len(a) == len(b) == 5
    assert sorted(ex.label for ex in a) != sorted(ex.label for ex in b)  # 2/3 and 3/2
    assert halve(subset, 0) == (a, b)
    assert {ex.id for ex in halve(subset, 1)[0]} != {ex.id for ex in a}
    with pytest.raises(ValueError, match="at least 2 examples"):
        halve(subset[:1], 0)


def test_disjoint_subsets_pairs_and_errors() -> None:
    draw = disjoint_subsets(pairs(40), n_subsets=3, subset_size=10, seed=0)
    assert all(balanced(s) for s in draw.subsets) and len(draw.rest) == 10
    assert draw == disjoint_subsets(pairs(40), n_subsets=3, subset_size=10, seed=0)
    with pytest.raises(ValueError, match="needs 50 pairs"):
        disjoint_subsets(pairs(40), n_subsets=5, subset_size=10, seed=0)
    with pytest.raises(ValueError, match="`n_subsets` of disjoint_subsets must be an int >= 1. Got 0"):
        disjoint_subsets(pairs(40), n_subsets=0, subset_size=10, seed=0)
    with pytest.raises(ValueError, match="needs 15 examples of class 0"):
        disjoint_subsets(pool(10, 30), n_subsets=3, subset_size=10, seed=0)


def write_presplit(directory: Path, n: int) -> None:
    directory.mkdir()
    for offset, stem in enumerate(("train_gt", "train_w2s", "test")):
        rows = [{"chosen": f"{stem} good {i}", "rejected": f"{stem} bad {i}"} for i in range(n)]
        (directory / f"{stem}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_load_splits_from_directory(tmp_path: Path) -> None:
    write_presplit(tmp_path / "hh", 60)
    splits = load_splits(tmp_path / "hh", n_weak=20, n_w2s=21, n_test=60, seed=3)
    assert isinstance(splits, Splits)
    assert splits.sizes == {"weak": 20, "w2s": 21, "test": 60}
    assert all(ex.chosen.startswith("train_gt") for ex in splits.weak)
    assert all(ex.chosen.startswith("train_w2s") for ex in splits.w2s)
    assert all(ex.chosen.startswith("test") for ex in splits.test)
    assert all(balanced(part) for part in splits.as_dict().values())
    assert splits == load_splits(tmp_path / "hh", n_weak=20, n_w2s=21, n_test=60, seed=3)
    other = load_splits(tmp_path / "hh", n_weak=20, n_w2s=21, n_test=60, seed=4)
    assert {ex.id for ex in other.weak} != {ex.id for ex in splits.weak}
    with pytest.raises(ValueError, match="needs 61 pairs"):
        load_splits(tmp_path / "hh", n_weak=61, n_w2s=1, n_test=1, seed=0)


def test_load_splits_mapping_classification_and_errors(tmp_path: Path) -> None:
    files = {}
    for name in ("weak", "w2s", "test"):
        rows = [{"text": f"{name} {i}", "label": int(i < 8)} for i in range(20)]
        files[name] = tmp_path / f"{name}.jsonl"
        files[name].write_text("".join(json.dumps(r) + "\n" for r in rows))
    splits = load_splits(files, n_weak=10, n_w2s=None, n_test=16, seed=0)
    assert splits.sizes == {"weak": 10, "w2s": 16, "test": 16}  # None: largest balanced sample, 2 x 8
    assert all(balanced(part) for part in splits.as_dict().values())
    with pytest.raises(ValueError, match=r"needs 9 examples of class 1 .*only 8"):
        load_splits(files, n_weak=18, n_w2s=2, n_test=2, seed=0)
    with pytest.raises(ValueError, match=r"must map exactly \['weak', 'w2s', 'test'\]"):
        load_splits({"weak": files["weak"]}, n_weak=1, n_w2s=1, n_test=1, seed=0)
    with pytest.raises(FileNotFoundError, match="not a directory"):
        load_splits(tmp_path / "nowhere", n_weak=1, n_w2s=1, n_test=1, seed=0)
    (tmp_path / "partial").mkdir()
    with pytest.raises(FileNotFoundError, match="for the 'weak' split"):
        load_splits(tmp_path / "partial", n_weak=1, n_w2s=1, n_test=1, seed=0)
    shared = dict(files, test=files["weak"])
    with pytest.raises(ValueError, match="share 20 example"):
        load_split_tasks(shared)
