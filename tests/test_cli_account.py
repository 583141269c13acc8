"""Tests for the ``w2sg theory account`` command function."""

from __future__ import annotations

import json

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from w2sg.bregman import BinaryKL, SquaredEuclidean
from w2sg.commands.theory_account import account as account_command
from w2sg.theory.accounting import account, cross_entropy_accounting


@pytest.fixture()
def app() -> typer.Typer:
    app = typer.Typer()
    app.command("account")(account_command)
    app.command("noop")(lambda: None)  # two commands, so "account" is addressed by name
    return app


@pytest.fixture()
def law(tmp_path):
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(3), 2)
    teacher = rng.dirichlet(np.ones(3), size=(6, 8))
    student = rng.dirichlet(np.ones(3), size=(3, 8))[groups]
    truth = np.eye(3)[rng.integers(0, 3, 8)]
    weights = rng.random(6)
    path = tmp_path / "preds.npz"
    np.savez(path, teacher=teacher, student=student, truth=truth, weights=weights, groups=groups)
    return path, teacher, student, truth, weights, groups


def test_json_matches_direct_call(app, law) -> None:
    path, teacher, student, truth, weights, groups = law
    res = CliRunner().invoke(app, ["account", str(path), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    direct = cross_entropy_accounting(teacher, student, truth, weights=weights, groups=groups)
    assert out["accounting"] == direct.accounting.to_dict()
    assert out["cross_entropy"]["ce_truth_student"] == direct.ce_truth_student
    assert out["accounting"]["teacher_reverse_risk"] == float("inf")  # one-hot truth
    assert out["generator"] == "kl" and out["independent"] is False


def test_independent_and_other_generators(app, law, tmp_path) -> None:
    path, teacher, student, truth, weights, groups = law
    res = CliRunner().invoke(app, ["account", str(path), "--generator", "squared", "--independent", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)["accounting"]
    direct = account(SquaredEuclidean(), teacher, student, truth, weights=weights, groups=groups, independent=True)
    assert out == direct.to_dict() and out["independent"] is True
    # Binary predictions (probabilities of class 1) with binary-kl.
    bpath = tmp_path / "binary.npz"
    np.savez(bpath, teacher=teacher[..., 0], student=student[..., 0], truth=truth[:, 0])
    res = CliRunner().invoke(app, ["account", str(bpath), "--generator", "binary-kl", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["accounting"] == account(BinaryKL(), teacher[..., 0], student[..., 0], truth[:, 0]).to_dict()


def test_table_output(app, law) -> None:
    path = law[0]
    res = CliRunner().invoke(app, ["account", str(path)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    direct = cross_entropy_accounting(*law[1:4], weights=law[4], groups=law[5])
    assert "epsilon_1" in res.output and "Eq. (16)" in res.output and "ce.ce_gain" in res.output
    assert f"{direct.accounting.teacher_risk:.6g}" in res.output


def test_errors_exit_with_message(app, law, tmp_path) -> None:
    path = law[0]
    res = CliRunner().invoke(app, ["account", str(path), "--generator", "mahalanobis"])
    assert res.exit_code == 2 and "mahalanobis" in res.output
    np.savez(tmp_path / "bad.npz", teacher=law[1])
    res = CliRunner().invoke(app, ["account", str(tmp_path / "bad.npz")])
    assert res.exit_code == 2 and "Missing: student, truth" in res.output
    bpath = tmp_path / "binary.npz"
    np.savez(bpath, teacher=law[1][..., 0], student=law[2][..., 0], truth=law[3][:, 0])
    res = CliRunner().invoke(app, ["account", str(bpath), "--generator", "squared"])
    assert res.exit_code == 2 and "binary-kl" in res.output
