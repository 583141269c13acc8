"""``w2sg run`` through the real command-line app."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from w2sg.cli import app
from w2sg.config import default_config

runner = CliRunner()


def test_dry_run_of_the_embedded_default_names_its_run_folder():
    result = runner.invoke(app, ["run", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert default_config().config_hash() in result.output
    assert 'source = "offline:minilm-l3"' in result.output


def test_bad_key_and_bad_objective_parameter_exit_with_a_message():
    result = runner.invoke(app, ["run", "--dry-run", "--set", "data.n_wek=3"])
    assert result.exit_code == 2 and "data.n_wek: unknown key" in result.output
    bad = 'objectives=[{name="aux", params={alpha_maxx=1.0}}]'
    result = runner.invoke(app, ["run", "--dry-run", "--set", bad])
    assert result.exit_code == 2 and "Did you mean 'alpha_max'" in result.output


def test_run_prints_floor_ceiling_students_and_pgr(tmp_path):
    from test_pipeline import tiny_config
    from tiny_models import tiny_bert

    cfg = tiny_config(tmp_path, tiny_bert()[0], seeds=[0, 1])
    path = tmp_path / "c.json"
    path.write_text(json.dumps(cfg.model_dump(mode="json")))
    result = runner.invoke(app, ["run", str(path), "--quiet"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for text in ("weak teacher (floor)", "W2S student: ce", "W2S student: rce", "(ceiling)", "PGR"):
        assert text in result.output
    results = json.loads((tmp_path / "store" / "runs" / cfg.config_hash() / "results.json").read_text())
    pgr = results["summary"]["rce"]["pgr"]["mean"]
    assert f"{pgr:.2f}" in result.output
