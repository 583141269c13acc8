"""Config validation, overrides and hashing."""

from __future__ import annotations

import pytest

from w2sg.config import (
    RunConfig,
    apply_overrides,
    default_config,
    dump_config,
    load_config,
    parse_override,
    stable_hash,
    validate_config,
)


def test_default_config_round_trips_through_toml(tmp_path):
    cfg = default_config()
    path = tmp_path / "c.toml"
    path.write_text(dump_config(cfg))
    again = load_config(path)
    assert again == cfg
    assert again.config_hash() == cfg.config_hash()


def test_hash_ignores_runtime_but_not_results_relevant_keys():
    cfg = default_config()
    data = cfg.model_dump(mode="json")
    moved = validate_config(apply_overrides(data, ["runtime.output_dir='elsewhere'", "runtime.micro_batch_size=4"]))
    assert moved.config_hash() == cfg.config_hash()
    changed = validate_config(apply_overrides(data, ["data.n_weak=999"]))
    assert changed.config_hash() != cfg.config_hash()


def test_stable_hash_is_key_order_independent():
    assert stable_hash({"a": 1, "b": [1, 2]}) == stable_hash({"b": [1, 2], "a": 1})
    assert stable_hash({"a": 1}) != stable_hash({"a": 2})


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("data.n_weak=5", (["data", "n_weak"], 5)),
        ("teacher.smoothing=0.5", (["teacher", "smoothing"], 0.5)),
        ("runtime.progress=false", (["runtime", "progress"], False)),
        ("weak.source=offline:minilm-l3", (["weak", "source"], "offline:minilm-l3")),
        ('seeds=[1, 2]', (["seeds"], [1, 2])),
    ],
)
def test_parse_override(override, expected):
    assert parse_override(override) == expected


def test_unknown_key_is_named():
    data = default_config().model_dump(mode="json")
    data["data"]["n_wek"] = 3
    with pytest.raises(ValueError, match=r"data\.n_wek: unknown key"):
        validate_config(data)


def test_bad_literal_names_allowed_values():
    data = default_config().model_dump(mode="json")
    data["objectives"] = [{"name": "mse"}]
    with pytest.raises(ValueError, match=r"objectives\.0\.name: .*'ce'.*got 'mse'"):
        validate_config(data)


@pytest.mark.parametrize(
    "override",
    [
        "data.n_weak=1",
        "teacher.smoothing=1.5",
        "data.subset=3",
        "seeds=[1, 1]",
        "weak.train.lr=0",
        "low_confidence_quantile=0",
    ],
)
def test_every_constrained_field_rejects_bad_values(override):
    with pytest.raises(ValueError, match="Invalid config"):
        load_config(None, [override])


def test_missing_file_and_bad_suffix(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "c.ini"
    bad.write_text("x")
    with pytest.raises(ValueError, match=r"must end in \.toml"):
        load_config(bad)


def test_yaml_config(tmp_path):
    import yaml

    data = default_config().model_dump(mode="json")
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data))
    assert load_config(path).config_hash() == default_config().config_hash()


def test_duplicate_objectives_rejected():
    data = default_config().model_dump(mode="json")
    data["objectives"] = [{"name": "ce"}, {"name": "ce"}]
    with pytest.raises(ValueError, match="objectives must be distinct"):
        RunConfig.model_validate(data)
