"""Cheap, deterministic run and teacher functions for the sweep tests (importable by workers).

``fake_run`` behaves like the pipeline where the sweep can see it: it writes ``config.toml`` and
a partial file first, takes a little time, and writes ``results.json`` last and atomically. Its
results depend only on the config, so two sweeps of the same grid give identical files.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

from w2sg.config import RunConfig
from w2sg.store import Store, atomic_write_json, atomic_write_text

DELAY_ENV = "W2SG_TEST_RUN_DELAY"


def fake_results(config: RunConfig) -> dict:
    digest = config.config_hash()
    score = int(hashlib.sha256(digest.encode()).hexdigest()[:8], 16) / 16**8
    return {
        "config_hash": digest,
        "config": config.model_dump(mode="json", exclude={"runtime"}),
        "summary": {"score": score, "smoothing": config.teacher.smoothing},
    }


def fake_run(config: RunConfig, store: Store) -> dict:
    """A run that fails when ``teacher.smoothing == 0.25`` (a deliberate bad point)."""
    run_dir = store.run_dir(config.config_hash())
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / "config.toml", config.model_dump_json())
    (run_dir / "partial.txt").write_text("work in progress\n")
    time.sleep(float(os.environ.get(DELAY_ENV, "0")))
    if config.teacher.smoothing == 0.25:
        raise RuntimeError(f"deliberate failure at smoothing {config.teacher.smoothing}")
    results = fake_results(config)
    atomic_write_json(run_dir / "results.json", results)
    return results


def counting_teacher(config: RunConfig, store: Store) -> None:
    """Record one line per call (append-only, one write each), so calls across processes add up."""
    line = f"{os.getpid()} {config.config_hash()}\n"
    with open(Path(store.root) / "teacher_calls.txt", "a", encoding="utf-8") as handle:
        handle.write(line)


def failing_teacher(config: RunConfig, store: Store) -> None:
    raise ValueError("teacher could not be trained")


def base_config() -> dict:
    return {
        "name": "sweep-test",
        "weak": {"source": "weak-model"},
        "strong": {"source": "strong-model"},
        "objectives": [{"name": "ce"}],
        "seeds": [0],
    }


def _teacher_marker(store: Store, config: RunConfig) -> Path:
    from w2sg.config import stable_hash
    from w2sg.sweep import teacher_identity

    return Path(store.root) / "teachers" / stable_hash(teacher_identity(config))


def marking_teacher(config: RunConfig, store: Store) -> None:
    """``counting_teacher`` that also leaves a marker for its teacher group."""
    counting_teacher(config, store)
    marker = _teacher_marker(store, config)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text("ready\n")


def run_after_teacher(config: RunConfig, store: Store) -> dict:
    """``fake_run`` that fails unless its teacher group was prepared first."""
    if not _teacher_marker(store, config).is_file():
        raise RuntimeError("student started before its teachers were prepared")
    return fake_run(config, store)


def dying_run(config: RunConfig, store: Store) -> dict:
    """``fake_run`` whose worker process is killed (like an out-of-memory kill) at smoothing 0.75.

    Only for worker processes: in-process it would kill the caller.
    """
    if config.teacher.smoothing == 0.75:
        import signal

        os.kill(os.getpid(), signal.SIGKILL)
    return fake_run(config, store)
