"""Resumable sweeps: grid expansion, a teacher phase, and executors (local process pool, Ray).

A sweep file is a run config (TOML/YAML/JSON) with one extra ``[sweep]`` table::

    name = "smoothing"                    # the base RunConfig, as for ``w2sg run``
    [weak]
    source = "offline:minilm-l3"
    ...
    [sweep]
    name = "smoothing-vs-objective"       # optional; names sweeps/<name>.json
    zip = [["data.subset", "seeds"]]      # optional; keys varied together
    [sweep.grid]
    "teacher.smoothing" = [1.0, 0.6, 0.2]
    "objectives" = [[{name = "ce"}], [{name = "rce"}]]

The grid is the cartesian product of its axes; each ``zip`` group is one axis whose keys take
their i-th values together. Every point is validated as a :class:`~w2sg.config.RunConfig`; points
with the same config hash collapse to one run, named by that hash (``runs/<hash>/``).

Resuming is running the same command again, on any backend: a run whose ``results.json`` exists is
skipped, and nothing else is trusted (a half-done run leaves no ``results.json``, because the run
function writes it last and atomically). A failed run writes its traceback to
``runs/<hash>/error.txt`` (atomically) and does not stop the sweep.

Before the students, a *teacher phase* trains the weak teachers once per teacher group (runs that
share data, weak model, number of teachers, seeds and GDV window, i.e. everything the teacher
stages' store keys depend on), so twenty students of one teacher do not race to train it twenty
times on parallel workers. A group's runs start as soon as its teachers are ready.
"""

from __future__ import annotations

import concurrent.futures as cf
import copy
import itertools
import json
import multiprocessing
import pickle
import re
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import ValidationError

from w2sg.config import (
    RunConfig,
    _format_validation_error,
    _read_mapping,
    apply_overrides,
    parse_override,
    stable_hash,
)
from w2sg.store import Store, atomic_write_json, atomic_write_text

Backend = Literal["local", "ray"]
RunStatus = Literal["done", "skipped", "failed"]

RAY_TEMP_DIR = "/tmp/ray-w2sg"  # short: AF_UNIX socket paths are limited to 107 bytes
_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class RunFunction(Protocol):
    """Runs one experiment and writes ``store.run_dir(hash)/results.json`` last and atomically."""

    def __call__(self, config: RunConfig, store: Store) -> dict[str, Any]: ...


class TeacherFunction(Protocol):
    """Trains (or reuses) the weak teachers of ``config`` into ``store``'s stages."""

    def __call__(self, config: RunConfig, store: Store) -> None: ...


def run_pipeline(config: RunConfig, store: Store) -> dict[str, Any]:
    """The default run function: ``Experiment(config, store=store).run()``."""
    from w2sg.pipeline import Experiment

    return Experiment(config, store=store).run()


def prepare_pipeline_teachers(config: RunConfig, store: Store) -> None:
    """The default teacher function: ``Experiment(config, store=store).prepare_teachers()``."""
    from w2sg.pipeline import Experiment

    Experiment(config, store=store).prepare_teachers()


# ---------------------------------------------------------------------------------------------
# Grid expansion


@dataclass(frozen=True)
class SweepPoint:
    """One run of a sweep: its validated config and the grid values that produced it."""

    config: RunConfig
    values: dict[str, Any]

    @property
    def config_hash(self) -> str:
        return self.config.config_hash()


@dataclass(frozen=True)
class SweepPlan:
    """An expanded sweep: its name, the varied keys and the distinct runs in grid order."""

    name: str
    keys: tuple[str, ...]
    points: tuple[SweepPoint, ...]
    n_grid_points: int

    @property
    def configs(self) -> list[RunConfig]:
        return [p.config for p in self.points]

    @property
    def hashes(self) -> list[str]:
        return [p.config_hash for p in self.points]

    def manifest(self) -> dict[str, Any]:
        """What ``sweeps/<name>.json`` holds (deterministic, so rewriting it is idempotent)."""
        return {
            "name": self.name,
            "keys": list(self.keys),
            "n_grid_points": self.n_grid_points,
            "run_hashes": self.hashes,
            "runs": [{"config_hash": p.config_hash, "values": p.values} for p in self.points],
        }


def _flatten_grid(grid: Mapping[str, Any], prefix: str = "") -> dict[str, list[Any]]:
    # TOML turns an unquoted ``teacher.smoothing = [...]`` into nested tables; a grid value is
    # always a list, so a nested table can only mean a longer dotted key.
    flat: dict[str, list[Any]] = {}
    for key, value in grid.items():
        if not isinstance(key, str) or not key.strip(".").strip():
            raise ValueError(f"Keys of sweep.grid must be dotted config keys. Got {key!r} instead.")
        full = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten_grid(value, prefix=f"{full}."))
        elif isinstance(value, list):
            if not value:
                raise ValueError(f"sweep.grid[{full!r}] must be a non-empty list of values. Got [] instead.")
            flat[full] = value
        else:
            raise ValueError(
                f"sweep.grid[{full!r}] must be a list of values. Got {type(value).__name__} {value!r} instead."
            )
    return flat


def _zip_groups(zipped: Any, grid: dict[str, list[Any]]) -> list[list[str]]:
    if zipped is None:
        return []
    if not isinstance(zipped, list) or not zipped:
        raise ValueError(f"sweep.zip must be a list of lists of grid keys. Got {zipped!r} instead.")
    if all(isinstance(k, str) for k in zipped):
        zipped = [zipped]  # one group written as a flat list
    groups: list[list[str]] = []
    seen: set[str] = set()
    for group in zipped:
        if not isinstance(group, list) or len(group) < 2 or not all(isinstance(k, str) for k in group):
            raise ValueError(f"Each sweep.zip group must be a list of at least two grid keys. Got {group!r} instead.")
        for key in group:
            if key not in grid:
                raise ValueError(f"sweep.zip key {key!r} must be a key of sweep.grid ({sorted(grid)}). It is not.")
            if key in seen:
                raise ValueError(f"sweep.zip key {key!r} must appear in one zip group only. Got it twice.")
            seen.add(key)
        lengths = {key: len(grid[key]) for key in group}
        if len(set(lengths.values())) != 1:
            raise ValueError(f"Keys zipped together must have lists of equal length. Got lengths {lengths} instead.")
        groups.append(list(group))
    return groups


def _set_path(data: dict[str, Any], key: str, value: Any) -> None:
    node = data
    parts = key.split(".")
    for i, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ValueError(
                f"sweep.grid key {key!r} goes through {'.'.join(parts[: i + 1])!r}, which is a value, not a table."
            )
        node = child
    node[parts[-1]] = copy.deepcopy(value)


def _blame(err: ValidationError, values: dict[str, Any]) -> list[str]:
    """Grid keys whose path overlaps the location of a validation error."""
    blamed = []
    for item in err.errors():
        loc = [str(p) for p in item["loc"]]
        for key in values:
            parts = key.split(".")
            n = min(len(parts), len(loc))
            if parts[:n] == loc[:n] and key not in blamed:
                blamed.append(key)
    return blamed


def load_sweep(
    source: str | Path | Mapping[str, Any],
    overrides: Sequence[str] = (),
    *,
    output_dir: str | Path | None = None,
) -> SweepPlan:
    """Read a sweep file (or mapping), apply ``--set`` overrides, and expand and validate its grid.

    Args:
        source: path to a TOML/YAML/JSON sweep file, or the same content as a mapping.
        overrides: ``a.b=value`` strings applied to the file before expansion (``sweep.name=...``
            works too). An override may not set a key the grid varies.
        output_dir: if given, every run's ``runtime.output_dir`` (outside the config hash).

    Returns:
        The plan: distinct runs in grid order (first occurrence of each config hash wins).

    Raises:
        ValueError: bad sweep table, or a grid point that is not a valid config (the message names
            the grid key(s) and value(s) of that point).
    """
    if isinstance(source, Mapping):
        data, origin = json.loads(json.dumps(dict(source))), "sweep mapping"
    elif isinstance(source, (str, Path)):
        data, origin = _read_mapping(Path(source)), str(source)
    else:
        raise TypeError(f"source of load_sweep must be a path or a mapping. Got {type(source).__name__} instead.")
    if isinstance(overrides, str) or not all(isinstance(o, str) for o in overrides):
        raise TypeError(f"overrides must be a list of 'key.path=value' strings. Got {overrides!r} instead.")
    data = apply_overrides(data, list(overrides))
    sweep = data.pop("sweep", None)
    if sweep is None:
        sweep = {}
    if not isinstance(sweep, dict):
        raise ValueError(f"{origin}: [sweep] must be a table. Got {type(sweep).__name__} instead.")
    unknown = set(sweep) - {"grid", "zip", "name"}
    if unknown:
        raise ValueError(f"{origin}: [sweep] allows the keys grid, zip, name. Got unknown {sorted(unknown)} instead.")
    grid = _flatten_grid(sweep.get("grid") or {})
    groups = _zip_groups(sweep.get("zip"), grid)
    for text in overrides:
        keys, _ = parse_override(text)
        dotted = ".".join(keys)
        for key in grid:
            if key == dotted or key.startswith(dotted + ".") or dotted.startswith(key + "."):
                raise ValueError(
                    f"Override {text!r} sets {dotted!r}, which sweep.grid varies through {key!r}; "
                    "change the grid instead."
                )
    if output_dir is not None:
        _set_path(data, "runtime.output_dir", str(output_dir))

    # Axes in the order their first key appears in the grid; a zip group is one axis.
    zipped_of = {key: group for group in groups for key in group}
    axes: list[list[str]] = []
    for key in grid:
        group = zipped_of.get(key, [key])
        if group not in axes:
            axes.append(group)
    axis_values = [list(zip(*(grid[k] for k in axis), strict=True)) for axis in axes]
    combos = list(itertools.product(*axis_values))

    points: list[SweepPoint] = []
    seen: set[str] = set()
    for index, combo in enumerate(combos):
        values = {
            key: value for axis, row in zip(axes, combo, strict=True) for key, value in zip(axis, row, strict=True)
        }
        point = copy.deepcopy(data)
        for key, value in values.items():
            _set_path(point, key, value)
        try:
            config = RunConfig.model_validate(point)
        except ValidationError as err:
            blamed = _blame(err, values) or list(values)
            where = ", ".join(f"{k} = {values[k]!r}" for k in blamed) or "(no grid values)"
            detail = _format_validation_error(err, origin)
            raise ValueError(
                f"Sweep point {index + 1} of {len(combos)} is not a valid config: grid key {where}.\n{detail}"
            ) from None
        digest = config.config_hash()
        if digest not in seen:
            seen.add(digest)
            points.append(SweepPoint(config, values))

    name = sweep.get("name")
    if name is None:
        name = "sweep-" + stable_hash(sorted(seen))
    if not isinstance(name, str) or not _NAME_PATTERN.match(name):
        raise ValueError(
            f"sweep.name must be 1-100 letters, digits, '.', '_' or '-' (a file name). Got {name!r} instead."
        )
    return SweepPlan(name=name, keys=tuple(grid), points=tuple(points), n_grid_points=len(combos))


def expand_sweep(source: str | Path | Mapping[str, Any], overrides: Sequence[str] = ()) -> list[RunConfig]:
    """The distinct, validated run configs of a sweep file or mapping (see :func:`load_sweep`).

    Examples:
        >>> base = {"weak": {"source": "w"}, "strong": {"source": "s"}, "objectives": [{"name": "ce"}]}
        >>> grid = {"teacher.smoothing": [1.0, 0.5], "seeds": [[0], [1], [0]]}
        >>> len(expand_sweep({**base, "sweep": {"grid": grid}}))  # 2 x 3 points, seeds [0] twice
        4
    """
    return load_sweep(source, overrides).configs


def teacher_identity(config: RunConfig) -> dict[str, Any]:
    """What the weak teachers of ``config`` depend on: runs with equal identities share teachers.

    The pipeline's teacher stages are keyed by the weak model settings, the task and its splits
    (all of ``data``), the seeds, the number of teachers and the GDV window. Ensembling, smoothing
    and hard labels are applied after the teachers are trained, so they are not part of it.
    """
    return {
        "data": config.data.model_dump(mode="json"),
        "weak": config.weak.model_dump(mode="json"),
        "n_teachers": config.teacher.n_teachers,
        "seeds": list(config.seeds),
        "gdv_window": config.gdv_window,
    }


def teacher_groups(configs: Iterable[RunConfig]) -> dict[str, list[RunConfig]]:
    """Configs grouped by :func:`teacher_identity` (key: its hash), in first-seen order."""
    groups: dict[str, list[RunConfig]] = {}
    for config in configs:
        groups.setdefault(stable_hash(teacher_identity(config)), []).append(config)
    return groups


# ---------------------------------------------------------------------------------------------
# Work done in a worker (module level, so 'spawn' and Ray can import it)


def _execute_run(run_fn: RunFunction, config: RunConfig, root: str) -> dict[str, Any]:
    store = Store(root)
    digest = config.config_hash()
    if store.run_results(digest) is not None:  # finished meanwhile, e.g. by another sweep process
        return {"status": "skipped", "seconds": 0.0}
    start = time.perf_counter()
    error_path = store.run_dir(digest) / "error.txt"
    try:
        run_fn(config, store)
        if store.run_results(digest) is None:
            raise RuntimeError(
                f"The run function returned without writing {store.run_dir(digest) / 'results.json'}; "
                "it must write results.json last (atomically)."
            )
    except Exception as err:  # a failed run is recorded and the sweep goes on; Ctrl-C is not caught
        atomic_write_text(error_path, traceback.format_exc())
        return {"status": "failed", "seconds": time.perf_counter() - start, "error": _one_line(err)}
    error_path.unlink(missing_ok=True)  # a stale failure of an earlier attempt
    return {"status": "done", "seconds": time.perf_counter() - start}


def _execute_teacher(teacher_fn: TeacherFunction, config: RunConfig, root: str) -> dict[str, Any]:
    start = time.perf_counter()
    try:
        teacher_fn(config, Store(root))
    except Exception as err:
        return {
            "status": "failed",
            "seconds": time.perf_counter() - start,
            "error": _one_line(err),
            "traceback": traceback.format_exc(),
        }
    return {"status": "done", "seconds": time.perf_counter() - start}


def _one_line(err: BaseException) -> str:
    text = f"{type(err).__name__}: {err}"
    return text.splitlines()[0][:300] if text else type(err).__name__


# ---------------------------------------------------------------------------------------------
# Executors: every backend hands out concurrent.futures.Future objects


class _InlineExecutor(cf.Executor):
    """Runs each task in this process when it is submitted (``--workers 1``)."""

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[override]
        future: cf.Future = cf.Future()
        future.set_running_or_notify_cancel()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as err:
            future.set_exception(err)
        return future


class _RayExecutor:
    """Each task a Ray task with declared ``num_cpus``/``num_gpus``; futures via ``ObjectRef.future()``."""

    def __init__(self, *, address: str | None, cpus_per_run: float, gpus_per_run: float) -> None:
        try:
            import ray
        except ImportError as err:
            raise ImportError("The Ray backend needs Ray. Install it with: pip install 'w2sg[ray]'") from err
        self._ray = ray
        self._started = False
        if not ray.is_initialized():
            options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            if address is None:
                options["_temp_dir"] = RAY_TEMP_DIR
            else:
                options["address"] = address
            ray.init(**options)
            self._started = True
        self._options = {"num_cpus": cpus_per_run, "num_gpus": gpus_per_run, "max_retries": 0}
        self._remote: dict[Callable, Any] = {}

    def capacity(self, cpus_per_run: float, gpus_per_run: float) -> int:
        resources = self._ray.cluster_resources()
        slots = [int(resources.get("CPU", 1) // cpus_per_run)] if cpus_per_run > 0 else []
        if gpus_per_run > 0:
            slots.append(int(resources.get("GPU", 0) // gpus_per_run))
        return max(1, min(slots) if slots else 1)

    def submit(self, fn, /, *args) -> cf.Future:
        remote = self._remote.get(fn)
        if remote is None:
            remote = self._remote[fn] = self._ray.remote(**self._options)(fn)
        return remote.remote(*args).future()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if self._started:
            self._ray.shutdown()


# ---------------------------------------------------------------------------------------------
# Progress


@dataclass
class SweepProgress:
    """Counts of a sweep in flight and its estimated time left."""

    total: int
    workers: int
    done: int = 0
    running: int = 0
    failed: int = 0
    skipped: int = 0
    teachers_total: int = 0
    teachers_done: int = 0
    durations: list[float] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)

    @property
    def remaining(self) -> int:
        return self.total - self.done - self.failed - self.skipped

    def eta_seconds(self) -> float | None:
        r"""Time left: mean duration of the finished runs times the remaining runs per worker.

        .. math:: \hat t = \bar d \cdot \lceil n_\text{remaining} / n_\text{workers} \rceil

        None until one run has finished (nothing to estimate from); 0 when nothing remains.
        """
        if self.remaining == 0:
            return 0.0
        if not self.durations:
            return None
        mean = sum(self.durations) / len(self.durations)
        return mean * -(-self.remaining // max(1, self.workers))

    def describe(self) -> str:
        eta = self.eta_seconds()
        eta_text = "?" if eta is None else _format_seconds(eta)
        parts = [
            f"runs {self.done + self.skipped + self.failed}/{self.total}",
            f"done {self.done}",
            f"running {self.running}",
            f"failed {self.failed}",
            f"skipped {self.skipped}",
        ]
        if self.teachers_total:
            parts.insert(0, f"teachers {self.teachers_done}/{self.teachers_total}")
        parts.append(f"elapsed {_format_seconds(time.perf_counter() - self.started)}")
        parts.append(f"left ~{eta_text}")
        return " · ".join(parts)


def _format_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class _Display:
    def __init__(self, progress: SweepProgress, *, enabled: bool) -> None:
        self.progress = progress
        self._live = None
        if enabled:
            from rich.console import Console
            from rich.live import Live
            from rich.text import Text

            self._text = Text
            self._live = Live(Text(progress.describe()), console=Console(stderr=True), refresh_per_second=2)

    def __enter__(self) -> _Display:
        if self._live is not None:
            self._live.__enter__()
        return self

    def update(self) -> None:
        if self._live is not None:
            self._live.update(self._text(self.progress.describe()))

    def __exit__(self, *exc: Any) -> None:
        if self._live is not None:
            self.update()
            self._live.__exit__(*exc)


# ---------------------------------------------------------------------------------------------
# The sweep


@dataclass(frozen=True)
class RunOutcome:
    """How one run of a sweep ended (``seconds`` is 0 for a skipped run)."""

    config_hash: str
    status: RunStatus
    seconds: float = 0.0
    error: str | None = None


@dataclass(frozen=True)
class SweepResult:
    """Outcomes of every run of a sweep, in plan order, and where its manifest was written."""

    name: str
    manifest: Path
    outcomes: tuple[RunOutcome, ...]

    @property
    def failed(self) -> list[RunOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    @property
    def ok(self) -> bool:
        return not self.failed

    def counts(self) -> dict[str, int]:
        return {s: sum(o.status == s for o in self.outcomes) for s in ("done", "skipped", "failed")}


def run_sweep(
    plan: SweepPlan,
    *,
    store: Store | str | Path | None = None,
    backend: Backend = "local",
    workers: int = 1,
    address: str | None = None,
    cpus_per_run: float = 1.0,
    gpus_per_run: float = 0.0,
    run_fn: RunFunction = run_pipeline,
    teacher_fn: TeacherFunction | None = prepare_pipeline_teachers,
    progress: bool = True,
) -> SweepResult:
    """Run every unfinished run of ``plan``; finished ones (``results.json`` present) are skipped.

    Args:
        plan: from :func:`load_sweep`.
        store: the run store (default: the first run's ``runtime.output_dir``).
        backend: ``"local"`` (``workers`` processes; 1 runs in this process) or ``"ray"``.
        workers: parallel local processes (``spawn`` context); ignored by Ray, which schedules by
            ``cpus_per_run``/``gpus_per_run``.
        address: Ray cluster address; None starts a local Ray instance.
        cpus_per_run, gpus_per_run: resources each Ray task declares.
        run_fn: runs one config; must write ``results.json`` last and atomically. For local
            ``workers > 1`` it must be picklable (a module-level function).
        teacher_fn: prepares one teacher group's weak teachers, or None to skip the teacher phase.
            It is called once per group that has two or more unfinished runs.
        progress: show a live progress line (rich) on stderr.

    With local ``workers > 1`` the 'spawn' start method re-imports the calling script, so a script
    that calls this must do so under ``if __name__ == "__main__":`` (the ``w2sg`` command does).
    A worker process that dies (killed, out of memory) fails the runs it held; the pool is
    replaced and the sweep goes on.

    Returns:
        The outcome of every run. ``sweeps/<plan.name>.json`` lists the run hashes.

    Raises:
        ValueError/TypeError: bad options. KeyboardInterrupt propagates after the workers are
        stopped; finished runs are kept and a rerun resumes.
    """
    if not isinstance(plan, SweepPlan):
        raise TypeError(f"plan of run_sweep must be a SweepPlan (see load_sweep). Got {type(plan).__name__} instead.")
    if backend not in ("local", "ray"):
        raise ValueError(f"backend of run_sweep must be 'local' or 'ray'. Got {backend!r} instead.")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers of run_sweep must be an integer >= 1. Got {workers!r} instead.")
    for label, value in (("cpus_per_run", cpus_per_run), ("gpus_per_run", gpus_per_run)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ValueError(f"{label} of run_sweep must be a number >= 0. Got {value!r} instead.")
    if not callable(run_fn):
        raise TypeError(f"run_fn of run_sweep must be callable. Got {type(run_fn).__name__} instead.")
    if teacher_fn is not None and not callable(teacher_fn):
        raise TypeError(f"teacher_fn of run_sweep must be callable or None. Got {type(teacher_fn).__name__} instead.")
    if backend == "local" and workers > 1:
        for label, fn in (("run_fn", run_fn), ("teacher_fn", teacher_fn)):
            try:
                pickle.dumps(fn)
            except Exception as err:
                raise TypeError(
                    f"{label} must be picklable (a module-level function) for workers > 1. Got {fn!r}: {err}"
                ) from None
    if store is None:
        root = plan.points[0].config.runtime.output_dir if plan.points else "w2sg-runs"
        store = Store(root)
    elif not isinstance(store, Store):
        store = Store(store)
    root = str(store.root)

    manifest = store.root / "sweeps" / f"{plan.name}.json"
    atomic_write_json(manifest, plan.manifest())

    configs = [p.config for p in plan.points]
    if progress:
        # The sweep shows its own progress; per-run bars would garble it (outside the hash).
        configs = [c.model_copy(update={"runtime": c.runtime.model_copy(update={"progress": False})}) for c in configs]
    outcomes: dict[str, RunOutcome] = {}
    pending: list[RunConfig] = []
    for config in configs:
        digest = config.config_hash()
        if store.run_results(digest) is not None:
            outcomes[digest] = RunOutcome(digest, "skipped")
        else:
            pending.append(config)

    if not pending:  # nothing to do: start no pool and no Ray instance
        executor: Any = _InlineExecutor()
        capacity = workers
    elif backend == "ray":
        executor = _RayExecutor(address=address, cpus_per_run=cpus_per_run, gpus_per_run=gpus_per_run)
        if cpus_per_run or gpus_per_run:
            capacity = executor.capacity(cpus_per_run, gpus_per_run)
        else:  # tasks that declare no resources all run at once
            capacity = max(1, len(pending))
    elif workers > 1:
        executor = _new_pool(workers)
        capacity = workers
    else:
        executor = _InlineExecutor()
        capacity = 1

    groups = teacher_groups(pending) if teacher_fn is not None else {}
    shared = {key: runs for key, runs in groups.items() if len(runs) >= 2}
    # Runs wait for their group's teachers; runs of single-run groups train their own.
    waiting = {key: runs for key, runs in shared.items()}
    ready: list[RunConfig] = [c for c in pending if stable_hash(teacher_identity(c)) not in shared]

    state = SweepProgress(total=len(configs), workers=capacity, skipped=len(outcomes), teachers_total=len(shared))
    in_flight: dict[cf.Future, tuple[str, Any]] = {}
    teacher_queue = list(shared)
    try:
        with _Display(state, enabled=progress) as display:
            while teacher_queue or ready or in_flight:
                # Teachers first: they unblock the most work.
                while len(in_flight) < capacity and (teacher_queue or ready):
                    if teacher_queue:
                        key = teacher_queue.pop(0)
                        state.running += 1
                        display.update()
                        representative = waiting[key][0]
                        executor, future = _submit(executor, workers, _execute_teacher, teacher_fn, representative, root)
                        in_flight[future] = ("teacher", key)
                    else:
                        config = ready.pop(0)
                        state.running += 1
                        display.update()
                        executor, future = _submit(executor, workers, _execute_run, run_fn, config, root)
                        in_flight[future] = ("run", config.config_hash())
                finished, _ = cf.wait(list(in_flight), timeout=0.5, return_when=cf.FIRST_COMPLETED)
                for future in finished:
                    kind, key = in_flight.pop(future)
                    state.running -= 1
                    try:
                        result = future.result()
                    except Exception as err:  # the worker itself died (killed, out of memory, ...)
                        result = {"status": "failed", "seconds": 0.0, "error": _one_line(err),
                                  "traceback": "".join(traceback.format_exception(err))}
                        if kind == "run" and store.run_results(key) is not None:
                            # It finished before the pool broke: results.json is the record of done.
                            result = {"status": "done", "seconds": 0.0}
                    if kind == "teacher":
                        state.teachers_done += 1
                        runs = waiting.pop(key)
                        if result["status"] == "failed":
                            for config in runs:
                                digest = config.config_hash()
                                text = f"The teacher phase of this run's teacher group {key} failed:\n"
                                atomic_write_text(store.run_dir(digest) / "error.txt", text + result["traceback"])
                                error = "teacher phase: " + result["error"]
                                outcomes[digest] = RunOutcome(digest, "failed", 0.0, error)
                                state.failed += 1
                        else:
                            ready.extend(runs)
                    else:
                        if "traceback" in result and result["status"] == "failed":
                            atomic_write_text(store.run_dir(key) / "error.txt", result["traceback"])
                        outcomes[key] = RunOutcome(key, result["status"], result["seconds"], result.get("error"))
                        if result["status"] == "done":
                            state.done += 1
                            if result["seconds"]:  # unknown (0) when its worker died after finishing
                                state.durations.append(result["seconds"])
                        elif result["status"] == "skipped":
                            state.skipped += 1
                        else:
                            state.failed += 1
                display.update()
    except BaseException:
        _stop(executor)
        raise
    executor.shutdown(wait=True)
    ordered = tuple(outcomes[c.config_hash()] for c in configs)
    return SweepResult(name=plan.name, manifest=manifest, outcomes=ordered)


def _new_pool(workers: int) -> cf.ProcessPoolExecutor:
    return cf.ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))


def _submit(executor: Any, workers: int, fn: Callable, *args: Any) -> tuple[Any, cf.Future]:
    """Submit, replacing a process pool that broke because a worker died (its runs are failed)."""
    try:
        return executor, executor.submit(fn, *args)
    except cf.BrokenExecutor:
        executor.shutdown(wait=False, cancel_futures=True)
        executor = _new_pool(workers)
        return executor, executor.submit(fn, *args)


def _stop(executor: Any) -> None:
    """Stop every worker now (Ctrl-C): finished runs are on disk; unfinished ones left nothing."""
    if isinstance(executor, cf.ProcessPoolExecutor):
        processes = list((getattr(executor, "_processes", None) or {}).values())
        executor.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join(timeout=5)
    else:
        executor.shutdown(wait=False, cancel_futures=True)
