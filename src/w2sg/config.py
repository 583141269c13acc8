"""Validated experiment configuration.

One :class:`RunConfig` fully determines a weak-to-strong experiment; its canonical JSON (the
``runtime`` section excluded, since batch size per device, workers and output folders do not change
results) is hashed to name the run folder. Configs come from TOML or YAML files, from
``--set a.b=value`` overrides, or from :func:`default_config` (the embedded offline default).

Unknown keys and bad values are errors that name the key and the allowed values.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

OBJECTIVE_NAMES = ("ce", "rce", "kl", "rkl", "aux", "cace", "sl")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataConfig(_Strict):
    """Which task, and how large each split is (the paper's Table 2 columns)."""

    task: str = Field(
        "tweets",
        description="Task name from the registry, a local file, or a folder holding pre-split "
        "train_gt / train_w2s / test files (the paper's HH-RLHF format).",
    )
    options: dict[str, Any] = Field(default_factory=dict, description="Extra options for the task loader.")
    n_weak: int = Field(2000, ge=2, description="|D_w|: ground-truth examples to train the weak teacher.")
    n_w2s: int = Field(2000, ge=2, description="|D_s|: examples the teacher labels for the student.")
    n_test: int = Field(1000, ge=2, description="|D_test|: held-out examples for every metric.")
    max_length: int = Field(128, ge=8, description="Tokens per text; longer texts are left-truncated.")
    n_subsets: int = Field(
        1, ge=1, description="Split the pool into this many disjoint subsets (bias-variance, Alg. 1)."
    )
    subset: int = Field(0, ge=0, description="Which disjoint subset this run uses.")
    fixed_test: bool = Field(
        False, description="Draw D_test once (seed 0) for every seed, so all runs share one test set."
    )
    pool: int | None = Field(
        None,
        ge=4,
        description="Draw a fixed class-balanced pool of this many examples before the per-seed splits "
        "(keeps frozen-feature caches small); None uses the whole task.",
    )

    @model_validator(mode="after")
    def _subset_in_range(self) -> DataConfig:
        if self.subset >= self.n_subsets:
            raise ValueError(f"data.subset must be in [0, {self.n_subsets - 1}]. Got {self.subset} instead.")
        return self


class TrainSettings(_Strict):
    """Optimisation of one stage. In ``features`` mode this trains the linear head only."""

    epochs: int = Field(2, ge=1)
    batch_size: int = Field(32, ge=1, description="Optimiser batch (after gradient accumulation).")
    lr: float = Field(5e-5, gt=0)
    optimizer: Literal["adam", "adamw"] = "adam"
    weight_decay: float = Field(0.0, ge=0)
    schedule: Literal["cosine", "constant"] = "cosine"
    warmup_frac: float = Field(0.0, ge=0, lt=1)
    max_grad_norm: float | None = Field(None, gt=0)
    dropout: bool = False


class ModelSettings(_Strict):
    """A backbone, how it is adapted, and how its stage is trained."""

    source: str = Field(description="Hub id, local directory, or offline:<name>.")
    finetune: Literal["full", "lora", "head", "features"] = Field(
        "full", description="full fine-tuning, LoRA, head on a frozen backbone, or cached frozen features."
    )
    pooling: Literal["auto", "last", "mean"] = "auto"
    dtype: Literal["fp32", "bf16"] = "fp32"
    lora_rank: int = Field(8, ge=1)
    gradient_checkpointing: bool = False
    train: TrainSettings = Field(default_factory=TrainSettings)


class ObjectiveSettings(_Strict):
    """A W2S training objective and its parameters (see ``w2sg.losses.make_objective``)."""

    name: Literal["ce", "rce", "kl", "rkl", "aux", "cace", "sl"]
    params: dict[str, float | None] = Field(default_factory=dict)

    @property
    def label(self) -> str:
        items = sorted((k, v) for k, v in self.params.items() if v is not None)
        return self.name + "(" + ",".join(f"{k}={v:g}" for k, v in items) + ")" if items else self.name


class TeacherSettings(_Strict):
    """How the weak supervision is formed from one or several teachers (Eq. 42)."""

    n_teachers: int = Field(1, ge=1, description="Teachers trained with different seeds.")
    ensemble: Literal["dual", "primal"] = Field(
        "dual", description="dual: sigma(mean logit), the normalised geometric mean; primal: mean probability."
    )
    diversity: Literal["seed", "bootstrap", "disjoint"] = Field(
        "seed",
        description="What differs between ensemble teachers: only the seed (fine-tuning), a bootstrap "
        "resample of D_w, or disjoint class-balanced parts of D_w (needed on frozen features, whose "
        "convex head does not depend on the seed).",
    )
    smoothing: float = Field(
        1.0, ge=0, le=1, description="Label-proportional smoothing y -> a*y + (1-a)/2 (Prop. 2); 1 = none."
    )
    hard_labels: bool = Field(False, description="Round the teacher's soft labels to 0/1.")


class RuntimeSettings(_Strict):
    """Settings that do not change results; excluded from the config hash."""

    output_dir: str = "w2sg-runs"
    micro_batch_size: int | None = Field(None, ge=1)
    progress: bool = True
    log_every: int = Field(1, ge=1)
    record: list[Literal["loss", "grad_norm", "param_distance", "gdv"]] = Field(
        default_factory=lambda: ["loss", "grad_norm", "param_distance"]
    )
    trackers: list[Literal["tensorboard", "wandb", "mlflow"]] = Field(default_factory=list)


class RunConfig(_Strict):
    """One weak-to-strong experiment: floor, ceiling and a student per objective, for each seed."""

    name: str = "experiment"
    data: DataConfig = Field(default_factory=DataConfig)
    weak: ModelSettings
    strong: ModelSettings
    teacher: TeacherSettings = Field(default_factory=TeacherSettings)
    objectives: list[ObjectiveSettings] = Field(min_length=1)
    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2], min_length=1)
    gdv_window: int = Field(8, ge=2, description="Optimiser steps per GDV window (Eq. 43).")
    low_confidence_quantile: float = Field(
        0.5, gt=0, le=1, description="Test items whose teacher confidence |p - 1/2| is below this quantile."
    )
    runtime: RuntimeSettings = Field(default_factory=RuntimeSettings)

    @field_validator("seeds")
    @classmethod
    def _unique_seeds(cls, seeds: list[int]) -> list[int]:
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds must be distinct. Got {seeds} instead.")
        return seeds

    @field_validator("objectives")
    @classmethod
    def _unique_objectives(cls, objectives: list[ObjectiveSettings]) -> list[ObjectiveSettings]:
        labels = [o.label for o in objectives]
        if len(set(labels)) != len(labels):
            raise ValueError(f"objectives must be distinct. Got {labels} instead.")
        return objectives

    def identity(self) -> dict[str, Any]:
        """The part of the config that determines results (everything but ``runtime``)."""
        return self.model_dump(mode="json", exclude={"runtime"})

    def config_hash(self) -> str:
        """12 hex digits of SHA-256 over the canonical JSON of :meth:`identity`."""
        return stable_hash(self.identity())


def stable_hash(obj: Any, *, length: int = 12) -> str:
    """SHA-256 of the canonical JSON of ``obj`` (sorted keys, no whitespace), first ``length`` hex digits."""
    canonical = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:length]


def default_config() -> RunConfig:
    """The embedded offline default: MiniLM-L3 teacher -> MiniLM-L6 student on balanced tweets.

    Both backbones stay frozen; a bias-free linear head is trained on their cached mean-pooled
    features, so three seeds of floor, ceiling and CE/RCE students fit in a few CPU minutes.
    """
    head = TrainSettings(epochs=300, batch_size=4096, lr=0.05, weight_decay=1e-3, schedule="constant")
    return RunConfig(
        name="offline-default",
        data=DataConfig(task="tweets", n_weak=800, n_w2s=2000, n_test=1000, max_length=64, pool=4800),
        weak=ModelSettings(source="offline:minilm-l3", finetune="features", train=head),
        strong=ModelSettings(source="offline:minilm-l6", finetune="features", train=head),
        objectives=[ObjectiveSettings(name="ce"), ObjectiveSettings(name="rce")],
        seeds=[0, 1, 2],
    )


# ---------------------------------------------------------------------------------------------
# Loading and overrides


def _read_mapping(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(f"Config file {path} does not exist.")
    text = path.read_text(encoding="utf-8")
    suffix = path.suffix.lower()
    if suffix == ".toml":
        import tomllib

        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            raise ValueError(f"{path}: not valid TOML: {err}") from err
    elif suffix in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise ValueError(f"{path}: not valid YAML: {err}") from err
    elif suffix == ".json":
        data = json.loads(text)
    else:
        raise ValueError(f"Config file {path} must end in .toml, .yaml, .yml or .json. Got {suffix!r} instead.")
    if not isinstance(data, dict):
        raise ValueError(f"{path}: the top level must be a table of keys. Got {type(data).__name__} instead.")
    return data


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``a.b=value`` into a key path and a value parsed as TOML (falls back to a string).

    >>> parse_override("data.n_weak=500")
    (['data', 'n_weak'], 500)
    >>> parse_override("weak.source=offline:minilm-l3")
    (['weak', 'source'], 'offline:minilm-l3')
    """
    import tomllib

    if "=" not in text:
        raise ValueError(f"An override must look like key.path=value. Got {text!r} instead.")
    key, raw = text.split("=", 1)
    keys = [k for k in key.strip().split(".") if k]
    if not keys:
        raise ValueError(f"An override must name a key before '='. Got {text!r} instead.")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return keys, value


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return a copy of ``data`` with each ``a.b=value`` override set (creating tables as needed)."""
    result = json.loads(json.dumps(data))
    for text in overrides:
        keys, value = parse_override(text)
        node = result
        for key in keys[:-1]:
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                raise ValueError(f"Override {text!r}: {key!r} is a value, not a table.")
            node = child
        node[keys[-1]] = value
    return result


def _format_validation_error(err: ValidationError, origin: str) -> str:
    lines = [f"Invalid config ({origin}):"]
    for item in err.errors():
        where = ".".join(str(p) for p in item["loc"]) or "(top level)"
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown key"
        elif item["type"] == "literal_error":
            message = f"{message}; got {item.get('input')!r}"
        lines.append(f"  {where}: {message}")
    return "\n".join(lines)


def validate_config(data: dict[str, Any], *, origin: str = "config") -> RunConfig:
    """Build a :class:`RunConfig` from a mapping; errors name every bad key and what is allowed."""
    try:
        return RunConfig.model_validate(data)
    except ValidationError as err:
        raise ValueError(_format_validation_error(err, origin)) from None


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> RunConfig:
    """Read a TOML/YAML/JSON config (or the embedded default when ``path`` is None) and apply overrides."""
    if path is None:
        data = default_config().model_dump(mode="json")
        origin = "embedded default"
    else:
        data = _read_mapping(Path(path))
        origin = str(path)
    data = apply_overrides(data, overrides or [])
    return validate_config(data, origin=origin)


def dump_config(config: RunConfig) -> str:
    """The config as TOML text (round-trips through :func:`load_config`)."""
    import tomli_w

    return tomli_w.dumps(config.model_dump(mode="json", exclude_none=True))
