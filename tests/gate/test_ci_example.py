"""docs/ci-gate.md's GitHub Actions example: valid YAML, and a job that can work (frames1k built on Debian
before the candidate runs, the candidate judged and scored against a reference, gated against a baseline)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml
from hydra import compose, initialize_config_dir

from bench.__main__ import conf_dir
from bench.gate.__main__ import _parse as parse_gate_args
from bench.score.__main__ import parse_args as parse_score_args

ROOT = Path(__file__).resolve().parents[2]


def workflow() -> dict:
    text = (ROOT / "docs" / "ci-gate.md").read_text(encoding="utf-8")
    section = text.split("## Example: gate a prompt or model change in GitHub Actions", 1)[1]
    block = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert block, "no ```yaml block in the GitHub Actions example"
    return yaml.safe_load(block.group(1))


def command(steps: list[dict], prefix: str) -> tuple[int, dict, list[str]]:
    """(index, step, argv after the prefix) of the first command line starting with prefix."""
    found = [(i, line) for i, s in enumerate(steps) for line in str(s.get("run", "")).splitlines()
             if line.strip().startswith(prefix + " ")]
    assert found, f"no step runs {prefix!r}"
    i, line = found[0]
    return i, steps[i], shlex.split(line.split("#", 1)[0])[len(shlex.split(prefix)):]


def test_the_workflow_is_yaml_and_builds_frames1k_on_debian() -> None:
    wf = workflow()
    triggers = wf.get("on", wf.get(True))  # YAML 1.1 reads a bare `on` as true
    assert "pull_request" in triggers
    job = wf["jobs"]["gate"]
    container = job["container"] if isinstance(job["container"], str) else job["container"]["image"]
    assert container == "debian:bookworm"  # the pinned packages are Debian 12's, fetched with apt-get download
    steps = job["steps"]
    build_i, build, build_args = command(steps, "python -m bench.datasets build")
    assert build_args == ["frames1k"]
    assert "python -m bench.datasets build frames1k --check" in build["run"]
    run_i, _, run_args = command(steps, "python -m bench")
    assert build_i < run_i  # the images exist before the candidate runs
    with initialize_config_dir(version_base="1.3", config_dir=conf_dir()):
        cfg = compose("config", overrides=run_args)  # every override is a real config key
    assert cfg.dataset.name == "frames1k"
    assert wf["permissions"]["checks"] == "write"  # the JUnit step publishes checks


def test_the_candidate_is_judged_scored_against_a_reference_and_gated() -> None:
    steps = workflow()["jobs"]["gate"]["steps"]
    _, _, run_args = command(steps, "python -m bench")
    run_dir = next(a.split("=", 1)[1] for a in run_args if a.startswith("run_dir="))
    score_i, score, score_args = command(steps, "python -m bench.score")
    runs, opts, _ = parse_score_args(score_args)
    assert runs == [run_dir]
    assert opts["judge"].model.name.startswith("gemini-2.5-pro")  # composed from conf/judge/
    assert opts["judge"].model.api_key_env == "GEMINI_API_KEY"
    assert score["env"]["GEMINI_API_KEY"] == "${{ secrets.GEMINI_API_KEY }}"
    assert opts["reference"].startswith("baselines/")  # frames1k has no reference captions: a committed teacher
    gate_i, _, gate_args = command(steps, "python -m bench.gate")
    assert score_i < gate_i
    ns = parse_gate_args(gate_args)
    assert ns.items[0] == run_dir and ns.baseline.startswith("baselines/") and ns.baseline.endswith(".json")
