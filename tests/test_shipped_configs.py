"""Every config shipped under configs/ validates offline, objectives included."""

from __future__ import annotations

from pathlib import Path

import pytest

from w2sg.losses import make_objective
from w2sg.sweep import load_sweep

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").rglob("*.toml"))


def test_configs_are_shipped():
    names = {p.name for p in CONFIGS}
    assert "table1_hh_rlhf.toml" in names and "offline_default.toml" in names
    assert len(CONFIGS) >= 30


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_config_validates(path, monkeypatch):
    monkeypatch.setenv("W2SG_HH_DIR", "/nonexistent")  # expanded only when a run loads its data
    plan = load_sweep(path)
    assert plan.points, path
    for point in plan.points:
        for objective in point.config.objectives:
            make_objective(objective.name, **objective.params)  # raises on an unknown parameter


def test_paper_table2_settings():
    """Spot-check Table 2 (MATH.md 8.3) in the shipped paper configs."""
    plan = load_sweep(Path(__file__).resolve().parents[1] / "configs/paper/table1_hh_rlhf.toml")
    assert len(plan.points) == 3  # the three GPT-2 weak -> strong pairs of Table 1
    for point in plan.points:
        cfg = point.config
        assert (cfg.data.n_weak, cfg.data.n_w2s, cfg.data.n_test, cfg.data.max_length) == (4000, 4000, 4000, 512)
        assert (cfg.strong.train.epochs, cfg.strong.train.batch_size, cfg.strong.train.lr) == (1, 16, 1e-5)
    sciq = load_sweep(Path(__file__).resolve().parents[1] / "configs/paper/runs/sciq__gpt2__gpt2-medium.toml")
    cfg = sciq.points[0].config
    assert (cfg.data.n_weak, cfg.data.n_w2s, cfg.strong.train.lr, cfg.strong.train.epochs) == (5839, 5838, 5e-5, 2)
