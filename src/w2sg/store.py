"""Content-addressed store of finished work.

Layout under a root folder::

    runs/<config-hash>/        one experiment: config.toml, metrics.jsonl, results.json (written last)
    stages/<kind>-<key-hash>/  one finished stage (a trained teacher's labels, a student's predictions):
                               arrays.npz + meta.json, published by an atomic directory rename
    features/                  cached frozen features (see ``w2sg.features``)

A stage directory exists only when its work is complete: it is written under a temporary name and
renamed into place, so an interrupted process leaves at most a ``.tmp-*`` folder that is ignored
and cleaned up later. Two processes racing on the same stage both finish; the first rename wins and
the second copy is discarded, which is safe because the key fully determines the result.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from w2sg.config import stable_hash


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so readers see the old file or the whole new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, obj: Any) -> None:
    """:func:`atomic_write_text` of ``obj`` as indented JSON."""
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serialisable")


@dataclass(frozen=True)
class StageResult:
    """A finished stage: its arrays (aligned with ``meta['ids']`` where present) and metadata."""

    path: Path
    arrays: dict[str, np.ndarray]
    meta: dict[str, Any]


class Store:
    """Run folders named by config hash and shared, content-addressed stage results."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    # -- runs ---------------------------------------------------------------------------------
    def run_dir(self, config_hash: str) -> Path:
        return self.root / "runs" / config_hash

    def run_results(self, config_hash: str) -> dict[str, Any] | None:
        """The run's ``results.json`` if the run finished, else None."""
        path = self.run_dir(config_hash) / "results.json"
        if not path.is_file():
            return None
        return json.loads(path.read_text(encoding="utf-8"))

    # -- stages -------------------------------------------------------------------------------
    def stage_dir(self, kind: str, key: dict[str, Any]) -> Path:
        """Folder of the stage of ``kind`` determined by ``key`` (a JSON-able mapping)."""
        return self.root / "stages" / f"{kind}-{stable_hash(key, length=16)}"

    def load_stage(self, kind: str, key: dict[str, Any]) -> StageResult | None:
        """The finished stage, or None if it has not been completed."""
        path = self.stage_dir(kind, key)
        meta_path = path / "meta.json"
        if not meta_path.is_file():
            return None
        with np.load(path / "arrays.npz") as data:
            arrays = {name: data[name] for name in data.files}
        return StageResult(path, arrays, json.loads(meta_path.read_text(encoding="utf-8")))

    def save_stage(
        self,
        kind: str,
        key: dict[str, Any],
        arrays: dict[str, np.ndarray],
        meta: dict[str, Any],
        extra_files: dict[str, str] | None = None,
    ) -> StageResult:
        """Publish a finished stage atomically (temporary folder, then rename)."""
        final = self.stage_dir(kind, key)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".tmp-{final.name}-"))
        try:
            np.savez(tmp / "arrays.npz", **arrays)
            for name, text in (extra_files or {}).items():
                (tmp / name).write_text(text, encoding="utf-8")
            full_meta = {"kind": kind, "key": key, "finished_at": time.time(), **meta}
            (tmp / "meta.json").write_text(
                json.dumps(full_meta, indent=2, sort_keys=True, default=_json_default), encoding="utf-8"
            )
            try:
                os.rename(tmp, final)
            except OSError:
                # Another process published the same stage first; its result is equivalent.
                shutil.rmtree(tmp, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        result = self.load_stage(kind, key)
        if result is None:  # pragma: no cover - only if the folder was removed concurrently
            raise RuntimeError(f"Stage {final} vanished right after it was written.")
        return result

    def clean_temporary(self, older_than_s: float = 3600.0) -> int:
        """Remove ``.tmp-*`` leftovers of interrupted writers older than ``older_than_s``."""
        removed = 0
        stages = self.root / "stages"
        if not stages.is_dir():
            return 0
        now = time.time()
        for path in stages.glob(".tmp-*"):
            if now - path.stat().st_mtime > older_than_s:
                shutil.rmtree(path, ignore_errors=True)
                removed += 1
        return removed
