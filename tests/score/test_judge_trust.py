"""Issue 9: judge verdicts never cross from one judge to another; a judge that talked to the simulator is
labelled SIMULATED; identical requests are sent once; a judge that cannot judge writes nothing and exits 1;
tests never touch ~/.cache."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.config import SimConfig
from bench.score.__main__ import main as score_main
from bench.server_process import start_simulator
from tests.score.conftest import make_run, reference_for

FAST_RETRY = ["judge.retry.base_delay_s=0.01", "judge.retry.max_attempts=2", "judge.request_timeout_s=5"]


@pytest.fixture(scope="module")
def sim_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`python -m bench.sim` on its own, as a user would start it (captions from pixels only)."""
    log = tmp_path_factory.mktemp("sim") / "sim.log"
    with start_simulator(SimConfig(ttft_s=0.0, ttft_jitter_s=0.0, per_token_s=0.0, per_token_jitter_s=0.0),
                         log) as server:
        yield server.base_url


def scores_of(run: Path) -> dict[str, Any]:
    return json.loads((run / "metrics.json").read_text())["scores"]


def test_simulator_verdicts_never_reach_a_real_judge(tiny: Path, tmp_path: Path, sim_server: str,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """The issue's reproduction: judge=gemini-2.5-pro pointed at the simulator, then the same judge with no
    base_url (the SDK's own endpoint; here the SDK's GOOGLE_GEMINI_BASE_URL sends it to a closed local port, so
    no request leaves the machine and the real judge's failure is what must be reported)."""
    run = make_run(tmp_path, tiny, "m", {f"f{i}": reference_for(i) for i in range(4)})
    monkeypatch.setenv("GEMINI_API_KEY", "fake-key")
    assert score_main([str(run), "judge=gemini-2.5-pro", f"judge.model.base_url={sim_server}", *FAST_RETRY]) == 0
    first = scores_of(run)["judge"]
    assert first["requests_sent"] == 4 and first["simulated"] is True  # labelled from the server's header
    assert first["endpoint"].startswith("http://127.0.0.1:")
    assert "SIMULATED judge" in capsys.readouterr().out
    # the real judge: nothing may come from the simulator's verdicts
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", "http://127.0.0.1:9")  # nothing listens there
    code = score_main([str(run), "judge=gemini-2.5-pro", *FAST_RETRY])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 1 and "could not reach the judge at default" in err  # the real judge's failure, reported
    assert scores_of(run)["judge"] == first  # and the simulated scoring is kept, still labelled simulated


def test_simulated_verdict_under_a_real_judge_label_is_labelled_everywhere(tiny: Path, tmp_path: Path,
                                                                           sim_server: str,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.gate.inputs import from_run
    from bench.load import load_run_data, run_row
    from bench.report.data import assemble
    from bench.summary import _score_rows

    run = make_run(tmp_path, tiny, "m", {f"f{i}": reference_for(i) for i in range(3)})
    monkeypatch.setenv("OPENAI_API_KEY", "fake-key")
    assert score_main([str(run), "judge=gpt-4.1", f"judge.model.base_url={sim_server}/v1", *FAST_RETRY]) == 0
    s = scores_of(run)
    assert s["judge"]["simulated"] is True and s["scoring"]["judge"]["simulated"] is True  # metrics.json
    assert any("SIMULATED" in k for k, _ in _score_rows(s))  # the run's console summary
    [loaded] = load_run_data([run])
    assert run_row(loaded)["judge_simulated"] is True  # load_runs
    assert from_run(loaded).scoring["judge"]["simulated"] is True  # the gate
    notes = assemble([loaded], thumbnails=False)["notes"]
    assert any("SIMULATED judge" in n for n in notes)  # the report


class Counting(http.server.ThreadingHTTPServer):
    daemon_threads = True


def sse(content: str) -> bytes:
    """A streamed OpenAI chat completion answering `content`, with usage."""
    chunks = [{"choices": [{"index": 0, "delta": {"role": "assistant", "content": content}, "finish_reason": None}]},
              {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
              {"choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}]
    lines = [f"data: {json.dumps({'id': 'x', 'object': 'chat.completion.chunk', 'model': 'gpt-4.1', **c})}\n\n"
             for c in chunks]
    return ("".join(lines) + "data: [DONE]\n\n").encode()


def counting_server(status: int, answer: str | dict[str, Any], delay_s: float = 0.0) -> tuple[Counting, list[str]]:
    """A local OpenAI-compatible endpoint that answers every request the same way and counts them: a str is
    streamed as the assistant's content, a dict is sent as a JSON body with `status`."""
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("content-length") or 0))
            seen.append(self.path)
            if delay_s:
                threading.Event().wait(delay_s)
            data = sse(answer) if isinstance(answer, str) else json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("content-type", "text/event-stream" if isinstance(answer, str) else "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = Counting(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, seen


def test_bad_key_exits_1_and_keeps_earlier_scores(tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    run = make_run(tmp_path, tiny, "m", {f"f{i}": reference_for(i) for i in range(4)})
    assert score_main([str(run), "judge=sim", "workers=1"]) == 0
    before = {p.name: p.read_bytes() for p in (run / "scores").iterdir() if p.is_file()}
    metrics_before = (run / "metrics.json").read_bytes()
    server, seen = counting_server(401, {"error": {"message": "Incorrect API key provided",
                                                    "type": "invalid_request_error", "code": "invalid_api_key"}})
    try:
        monkeypatch.setenv("OPENAI_API_KEY", "bad-key")
        code = score_main([str(run), "judge=gpt-4.1", f"judge.model.base_url=http://127.0.0.1:{server.server_port}/v1",
                           "judge.concurrency=1", *FAST_RETRY])
    finally:
        server.shutdown()
    assert code == 1 and "judge stopped" in capsys.readouterr().err
    assert len(seen) == 1  # stopped at the first auth error, not once per frame
    assert {p.name: p.read_bytes() for p in (run / "scores").iterdir() if p.is_file()} == before
    assert (run / "metrics.json").read_bytes() == metrics_before


def test_every_verdict_failing_writes_nothing_and_exits_1(tiny: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    run = make_run(tmp_path, tiny, "m", {f"f{i}": reference_for(i) for i in range(3)})
    assert score_main([str(run), "workers=1"]) == 0
    metrics_before = (run / "metrics.json").read_bytes()
    server, seen = counting_server(200, "I cannot judge this.")  # never the verdict JSON
    try:
        monkeypatch.setenv("OPENAI_API_KEY", "k")
        code = score_main([str(run), "judge=gpt-4.1", f"judge.model.base_url=http://127.0.0.1:{server.server_port}/v1",
                           "judge.parse_retries=0", *FAST_RETRY])
    finally:
        server.shutdown()
    assert len(seen) == 3 and code == 1 and "no verdict" in capsys.readouterr().err
    assert (run / "metrics.json").read_bytes() == metrics_before


def test_identical_requests_are_sent_once(tiny: Path, tmp_path: Path, sim_server: str,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Two frames with the same image and caption ask the same question: one request, one verdict shared."""
    from bench.score import score_run
    from bench.score.__main__ import compose_judge

    same = reference_for(0)
    (tiny / "images" / "f3.jpg").write_bytes((tiny / "images" / "f0.jpg").read_bytes())  # f3 is f0's image
    run = make_run(tmp_path, tiny, "m", {"f0": same, "f3": same, "f1": reference_for(1)})
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    # slow answers: both asks are in flight at once
    server, seen = counting_server(200, json.dumps({"score": 4, "rationale": "ok"}), delay_s=0.3)
    try:
        judge = compose_judge("gpt-4.1", [f"judge.model.base_url=http://127.0.0.1:{server.server_port}/v1",
                                          "judge.concurrency=4", *FAST_RETRY])
        s = score_run(run, judge=judge, workers=1)
    finally:
        server.shutdown()
    assert len(seen) == 2  # f0 and f3 share one request; f1 its own
    assert s["judge"]["requests_sent"] == 2 and s["judge"]["deduplicated"] == 1 and s["judge"]["n"] == 3


def test_suite_judge_runs_do_not_touch_the_home_cache(tiny: Path, tmp_path: Path, _private_caches: Path) -> None:
    home_cache = Path.home() / ".cache" / "capbench" / "judge_cache.sqlite"
    before = home_cache.stat().st_mtime_ns if home_cache.exists() else None
    run = make_run(tmp_path, tiny, "m", {"f0": reference_for(0)})
    assert score_main([str(run), "judge=sim", "workers=1"]) == 0
    used = Path(scores_of(run)["judge"]["cache"])
    assert used == _private_caches / "capbench" / "judge_cache.sqlite" and used.exists()
    assert (home_cache.stat().st_mtime_ns if home_cache.exists() else None) == before
