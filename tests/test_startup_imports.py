"""Start-up cost (issue 12): a command imports what it needs when it needs it. The openai SDK (~0.5 s)
serves only non-streamed OpenAI requests; nltk (~0.6 s with its package __init__) only ROUGE scoring."""

import json
import subprocess
import sys

from .conftest import ROOT
from .test_e2e_sim import make_dataset

# Runs `python -m bench ARGS` in this interpreter, then prints which heavy modules it imported.
PROBE = """
import json, runpy, sys
sys.argv = ["bench", *sys.argv[1:]]
code = 0
try:
    runpy.run_module("bench", run_name="__main__")
except SystemExit as exc:
    code = exc.code or 0
print("PROBE " + json.dumps({"code": code, "loaded": sorted(m for m in ("openai", "nltk") if m in sys.modules)}))
"""


def _probe(*args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=ROOT, capture_output=True, text=True, timeout=120)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("PROBE ")), None)
    assert line, out.stdout[-2000:] + out.stderr[-2000:]
    return json.loads(line[len("PROBE "):])


def test_help_imports_neither_openai_nor_nltk():
    assert _probe("--help") == {"code": 0, "loaded": []}


def test_a_streamed_simulator_run_without_references_imports_neither(tmp_path):
    ds = make_dataset(tmp_path / "ds", 3)  # no references: nothing to score
    got = _probe("model=sim", f"dataset.path={ds}", "dataset.name=t", f"runs_dir={tmp_path / 'runs'}",
                 "runner.progress=false", "model.sim.ttft_s=0.01", "model.sim.per_token_s=0.0002")
    assert got == {"code": 0, "loaded": []}
    assert len(list((tmp_path / "runs").rglob("generations.jsonl"))) == 1  # it did run


def test_a_run_that_scores_or_uses_the_sdk_still_imports_them(tmp_path):
    """The lazy imports still happen where they are needed: ROUGE on the sample's references, the SDK
    for model.stream=false."""
    got = _probe("model=sim", "dataset.limit=2", f"runs_dir={tmp_path / 'runs'}", "runner.progress=false",
                 "model.sim.ttft_s=0.01", "model.sim.per_token_s=0.0002", "model.stream=false")
    assert got == {"code": 0, "loaded": ["nltk", "openai"]}
