"""The content-addressed store: atomic publication and reuse."""

from __future__ import annotations

import json

import numpy as np

from w2sg.store import Store, atomic_write_json


def test_stage_round_trip_and_key_addressing(tmp_path):
    store = Store(tmp_path)
    key = {"model": "m", "seed": 1}
    assert store.load_stage("model", key) is None
    saved = store.save_stage("model", key, {"logits": np.arange(3.0)}, {"note": "x"})
    loaded = store.load_stage("model", dict(reversed(list(key.items()))))
    assert loaded is not None and loaded.path == saved.path
    np.testing.assert_array_equal(loaded.arrays["logits"], np.arange(3.0))
    assert loaded.meta["note"] == "x" and loaded.meta["key"] == key
    assert store.load_stage("model", {"model": "m", "seed": 2}) is None


def test_second_writer_keeps_first_result(tmp_path):
    store = Store(tmp_path)
    store.save_stage("model", {"k": 1}, {"a": np.zeros(2)}, {"who": "first"})
    again = store.save_stage("model", {"k": 1}, {"a": np.ones(2)}, {"who": "second"})
    assert again.meta["who"] == "first"
    assert not list((tmp_path / "stages").glob(".tmp-*"))


def test_interrupted_writer_leaves_nothing_readable(tmp_path):
    store = Store(tmp_path)
    final = store.stage_dir("model", {"k": 2})
    partial = final.parent / f".tmp-{final.name}-dead"
    partial.mkdir(parents=True)
    (partial / "arrays.npz").write_bytes(b"half")
    assert store.load_stage("model", {"k": 2}) is None
    assert store.clean_temporary(older_than_s=-1) == 1
    assert not partial.exists()


def test_atomic_json_and_run_results(tmp_path):
    store = Store(tmp_path)
    assert store.run_results("abc") is None
    atomic_write_json(store.run_dir("abc") / "results.json", {"x": np.float32(1.5), "a": np.arange(2)})
    assert store.run_results("abc") == {"x": 1.5, "a": [0, 1]}
    assert json.loads((store.run_dir("abc") / "results.json").read_text())["x"] == 1.5
