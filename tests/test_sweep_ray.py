"""The Ray backend runs a small grid on a local Ray instance (skipped when Ray is not installed)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sweep_helpers as helpers  # noqa: E402

from w2sg.sweep import load_sweep, run_sweep  # noqa: E402


@pytest.fixture
def local_ray():
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'w2sg[ray]'); Ray backend not tested")
    import ray.cloudpickle

    # Ray workers cannot import the tests folder: ship the helper functions by value.
    ray.cloudpickle.register_pickle_by_value(helpers)
    ray.init(
        num_cpus=2,
        object_store_memory=80 * 1024 * 1024,
        _temp_dir="/tmp/ray-w2sg",
        include_dashboard=False,
        log_to_driver=False,
    )
    try:
        yield ray
    finally:
        ray.shutdown()
        ray.cloudpickle.unregister_pickle_by_value(helpers)


def test_sweep_starts_and_stops_its_own_ray(tmp_path):
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'w2sg[ray]'); Ray backend not tested")
    import ray.cloudpickle

    assert not ray.is_initialized()
    ray.cloudpickle.register_pickle_by_value(helpers)
    try:
        plan = load_sweep({**helpers.base_config(), "sweep": {"grid": {"data.n_weak": [10, 20, 30]}}})
        result = run_sweep(plan, store=tmp_path, backend="ray", run_fn=helpers.fake_run, teacher_fn=None, progress=True)
        left_running = ray.is_initialized()
    finally:
        if ray.is_initialized():  # only if run_sweep failed to shut down its own instance
            ray.shutdown()
        ray.cloudpickle.unregister_pickle_by_value(helpers)
    assert not left_running
    assert result.counts() == {"done": 3, "skipped": 0, "failed": 0}
    for point in plan.points:
        results = json.loads((tmp_path / "runs" / point.config_hash / "results.json").read_text())
        assert results == helpers.fake_results(point.config)


def test_ray_backend_runs_grid_and_resumes(local_ray, tmp_path):
    grid = {"teacher.smoothing": [1.0, 0.5, 0.25]}
    plan = load_sweep({**helpers.base_config(), "sweep": {"grid": grid, "name": "ray-grid"}})
    result = run_sweep(
        plan,
        store=tmp_path,
        backend="ray",
        cpus_per_run=1,
        run_fn=helpers.fake_run,
        teacher_fn=helpers.counting_teacher,
        progress=False,
    )
    assert local_ray.is_initialized()  # an instance the caller started is left running
    bad = [p.config_hash for p in plan.points if p.config.teacher.smoothing == 0.25]
    assert [o.config_hash for o in result.failed] == bad
    assert result.counts() == {"done": 2, "skipped": 0, "failed": 1}
    for point in plan.points:
        path = tmp_path / "runs" / point.config_hash / "results.json"
        if point.config_hash in bad:
            assert "deliberate failure" in (path.parent / "error.txt").read_text()
        else:
            assert json.loads(path.read_text()) == helpers.fake_results(point.config)
    # The three runs share one teacher group: it was prepared once, by a Ray worker.
    calls = (tmp_path / "teacher_calls.txt").read_text().splitlines()
    assert len(calls) == 1

    # Resume on another backend: the finished runs are skipped, only the failed one reruns.
    again = run_sweep(plan, store=tmp_path, run_fn=helpers.fake_run, teacher_fn=None, progress=False)
    assert again.counts() == {"done": 0, "skipped": 2, "failed": 1}
    assert json.loads((tmp_path / "sweeps" / "ray-grid.json").read_text())["run_hashes"] == plan.hashes


def test_missing_ray_names_the_extra(monkeypatch, tmp_path):
    import builtins

    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray" or name.startswith("ray."):
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    plan = load_sweep({**helpers.base_config(), "sweep": {"grid": {}}})
    with pytest.raises(ImportError, match=r"pip install 'w2sg\[ray\]'"):
        run_sweep(plan, store=tmp_path, backend="ray", run_fn=helpers.fake_run, teacher_fn=None, progress=False)
