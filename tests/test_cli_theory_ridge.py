"""CLI tests for ``w2sg theory ridge`` and ``w2sg theory smoothing`` on a fresh typer app."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from w2sg.commands.theory_ridge import ridge
from w2sg.commands.theory_smoothing import smoothing
from w2sg.theory.ridge import sweep

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture()
def app() -> typer.Typer:
    fresh = typer.Typer()
    fresh.command("ridge")(ridge)
    fresh.command("smoothing")(smoothing)
    return fresh


def _table_rows(output: str, ncols: int) -> list[list[str]]:
    rows = []
    for line in output.splitlines():
        cells = [c.strip() for c in line.strip().strip("│").split("│")]
        if len(cells) == ncols and cells[0] and cells[0][0].isdigit():
            rows.append(cells)
    return rows


def _is_png(path: Path) -> bool:
    data = path.read_bytes()
    # Signature, then an IHDR chunk of length 13 with positive width and height.
    return (
        data[:8] == PNG_SIGNATURE
        and data[12:16] == b"IHDR"
        and int.from_bytes(data[16:20], "big") > 0
        and int.from_bytes(data[20:24], "big") > 0
        and data.rstrip()[-8:-4] == b"IEND"
    )


def test_ridge_command_prints_the_sweep_and_writes_png(app: typer.Typer, tmp_path: Path) -> None:
    out, js = tmp_path / "fig" / "ridge.png", tmp_path / "ridge.json"
    result = CliRunner().invoke(
        app,
        ["ridge", "--d", "60", "--widths", "0.5,1,2", "--lams", "0.1,1", "--seeds", "3",
         "--out", str(out), "--json-out", str(js)],
        env={"COLUMNS": "160"},
    )
    assert result.exit_code == 0, result.output
    assert _is_png(out)
    direct = sweep(60, [30, 60, 120], [0.1, 1.0], 3)
    rows = _table_rows(result.output, 7)
    assert len(rows) == 6
    for printed, expected in zip(rows, direct.rows(), strict=True):
        assert int(printed[1]) == expected["m"]
        assert float(printed[0]) == pytest.approx(expected["gamma"], rel=1e-5)
        assert float(printed[2]) == pytest.approx(expected["lam"], rel=1e-5)
        assert float(printed[3]) == pytest.approx(expected["misfit_mean"], rel=1e-5)
        assert float(printed[4]) == pytest.approx(expected["misfit_sd"], rel=1e-5)
        assert float(printed[5]) == pytest.approx(expected["g"], rel=1e-5)
    payload = json.loads(js.read_text())
    np.testing.assert_allclose(payload["misfit"], direct.misfit, rtol=1e-12)
    assert payload["widths"] == [30, 60, 120]


def test_ridge_command_range_syntax_finite_n_and_convention(app: typer.Typer, tmp_path: Path) -> None:
    js = tmp_path / "r.json"
    result = CliRunner().invoke(
        app,
        ["ridge", "--d", "40", "--widths", "0.5:2:3", "--lams", "1", "--seeds", "2", "--n", "400",
         "--convention", "A", "--out", str(tmp_path / "r.png"), "--json-out", str(js)],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(js.read_text())
    assert payload["widths"] == [20, 40, 80]  # geomspace(0.5, 2, 3) * 40
    direct = sweep(40, [20, 40, 80], [1.0], 2, 400, convention="A")
    np.testing.assert_allclose(payload["misfit"], direct.misfit, rtol=1e-12)
    assert payload["n"] == 400 and payload["convention"] == "A"


@pytest.mark.parametrize(
    "args",
    [["--widths", "1,x"], ["--lams", "0,1"], ["--widths", "1:2"], ["--convention", "C"], ["--seeds", "0"]],
)
def test_ridge_command_rejects_bad_options(app: typer.Typer, tmp_path: Path, args: list[str]) -> None:
    result = CliRunner().invoke(app, ["ridge", "--d", "20", "--out", str(tmp_path / "x.png"), *args])
    assert result.exit_code != 0
    assert not (tmp_path / "x.png").exists()


def test_smoothing_command_table_and_png(app: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "s.png"
    result = CliRunner().invoke(
        app, ["smoothing", "--alphas", "1,0.5", "--labels", "0.8,0.3", "--out", str(out)], env={"COLUMNS": "160"}
    )
    assert result.exit_code == 0, result.output
    assert _is_png(out)
    rows = _table_rows(result.output, 7)
    assert len(rows) == 4
    alpha, y, smoothed, ce_p1, ce_acc, rce_p1, rce_acc = map(float, rows[2])  # alpha 0.5, y 0.8
    assert (alpha, y) == (0.5, 0.8)
    assert smoothed == pytest.approx(0.65) and ce_p1 == pytest.approx(0.65) and ce_acc == pytest.approx(0.65)
    assert rce_p1 == 1.0 and rce_acc == 1.0
    alpha, y, smoothed, ce_p1, ce_acc, rce_p1, rce_acc = map(float, rows[3])  # alpha 0.5, y 0.3
    assert smoothed == pytest.approx(0.4) and ce_acc == pytest.approx(0.6)
    assert rce_p1 == 0.0 and rce_acc == 1.0


def test_smoothing_command_rejects_alpha_outside_unit_interval(app: typer.Typer, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["smoothing", "--alphas", "1.5", "--out", str(tmp_path / "s.png")])
    assert result.exit_code != 0
