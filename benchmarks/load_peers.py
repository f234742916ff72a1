"""capbench's load generator side by side with `vllm bench serve` and guidellm, against one simulator.

    python benchmarks/load_peers.py [--concurrency 8 32 64] [--requests 1000] [--repeats 3]
        [--rates 25 100] [--tools capbench vllm guidellm lean] [--out results.json] [--install-peers]

One standalone simulator (`python -m bench.sim`, TTFT 50 ms + 2 ms/token, no jitter) runs in its own
process, pinned to the last CPU; every client runs as a subprocess pinned to the other CPUs. Every tool
sends the same request: the ClipTagger prompt (conf/prompt/cliptagger.yaml) with one sample JPEG,
979 input tokens as the simulator counts them, max_tokens=128 (the simulator stops there, finish
"length"). For each tool, concurrency and repeat (repeats interleaved, tool order rotated) it records
what the tool reports (req/s, output tok/s, TTFT and E2EL p50) and, the same way for every tool:
  - the server's view, from the simulator's request log: requests, tokens per request, req/s over
    [first request start, last request end] (extra requests, e.g. a peer's warm-up, are counted apart);
  - client CPU per request: user+sys CPU of the client's process tree (psutil, sampled every 20 ms)
    over that same window, so start-up and report writing are excluded; the whole-process figure
    (getrusage of the reaped child, start-up included) is kept as well.
"lean" is benchmarks/lean_client.py, a minimal aiohttp client (prebuilt request bytes, no JSON parsing per
chunk): the measured server ceiling. The ideal ceiling is concurrency / injected E2EL. Peers live in their own
venvs (--vllm-venv, --guidellm-venv; --install-peers creates them); a missing peer is skipped with a note.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil  # optional extra: pip install -e '.[benchmarks]'
import yaml

ROOT = Path(__file__).resolve().parent.parent
IMAGE = ROOT / "datasets" / "sample" / "images" / "vtest-t056.0.jpg"
MODEL = "capbench-sim"
TTFT_S, PER_TOKEN_S, IN_TOKENS, OUT_TOKENS = 0.050, 0.002, 979, 128
# bench/sim/protocols/base.py `paced`: first token at TTFT, then one token every per_token_s.
TRUTH_TTFT_MS, TRUTH_E2EL_MS = TTFT_S * 1e3, (TTFT_S + (OUT_TOKENS - 1) * PER_TOKEN_S) * 1e3
PEERS = {"vllm": ("vllm==0.33.0", "vllm"), "guidellm": ("guidellm==0.8.1", "guidellm")}
POST = "POST /v1/chat/completions"


# ---- the simulator and what its log says -----------------------------------------------------------
class Simulator:
    """`python -m bench.sim` on 127.0.0.1, pinned to `cpus`; stderr lines are time-stamped as they arrive."""

    def __init__(self, cpus: set[int] | None) -> None:
        sets = [f"--set={k}={v}" for k, v in dict(ttft_s=TTFT_S, ttft_jitter_s=0, per_token_s=PER_TOKEN_S,
                                                  per_token_jitter_s=0, model_names=f"[{MODEL}]").items()]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.sim", "--port", "0", "--exit-with-parent", *sets], cwd=ROOT,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
            preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None)
        ready = json.loads(self.proc.stdout.readline() or '{"port": null}')
        if not ready.get("port"):
            raise SystemExit(f"simulator did not start: {self.proc.stderr.read()}")
        self.port = ready["port"]
        self.lines: list[tuple[float, str]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            if POST in line:
                self.lines.append((time.monotonic(), line))

    def requests_since(self, mark: int, expected: int) -> dict:
        """The server's view of the last `expected` requests logged after `mark` (earlier ones are extras)."""
        time.sleep(0.2)  # let the reader catch the last lines
        got = self.lines[mark:]
        extra, got = max(0, len(got) - expected), got[-expected:]
        spans, outs, ins, status = [], [], [], []
        for stamp, line in got:  # "sim: POST /v1/chat/completions 200 0.307s ... input_tokens=979 output_tokens=128"
            f = line.split()
            kv = dict(x.split("=", 1) for x in f if "=" in x)
            spans.append((stamp - float(f[4].rstrip("s")), stamp))
            outs.append(int(kv.get("output_tokens", -1)))
            ins.append(int(kv.get("input_tokens", -1)))
            status.append(f[3])
        if not spans:
            return {"requests": 0, "extra": extra}
        start, end = min(s for s, _ in spans), max(e for _, e in spans)
        return {"requests": len(spans), "extra": extra, "ok": status.count("200"), "start": start, "end": end,
                "req_s": len(spans) / (end - start), "e2el_p50_ms": statistics.median(e - s for s, e in spans) * 1e3,
                "output_tokens": sorted(set(outs)), "input_tokens": sorted(set(ins))}

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


class TreeCPU(threading.Thread):
    """Samples user+sys CPU seconds of a process and all its descendants (reaped ones via children_*)."""

    def __init__(self, pid: int, every_s: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.root, self.every_s, self.samples, self.done = psutil.Process(pid), every_s, [], threading.Event()
        self.procs: dict[int, psutil.Process] = {}

    def run(self) -> None:
        while not self.done.is_set():
            try:
                kids = self.root.children(recursive=True)
            except psutil.Error:
                return
            total = 0.0
            for p in [self.root, *kids]:
                try:
                    t = self.procs.setdefault(p.pid, p).cpu_times()
                    total += t.user + t.system + t.children_user + t.children_system
                except psutil.Error:
                    pass
            self.samples.append((time.monotonic(), total))
            time.sleep(self.every_s)

    def between(self, t0: float, t1: float) -> float | None:
        def at(t: float) -> float | None:  # linear interpolation between the samples around t
            for (ta, ca), (tb, cb) in zip(self.samples, self.samples[1:], strict=False):
                if ta <= t <= tb:
                    return ca + (cb - ca) * (t - ta) / max(tb - ta, 1e-9)
            return None
        a, b = at(t0), at(t1)
        return None if a is None or b is None else b - a


def run_client(cmd: list[str], sim: Simulator, n: int, cpus: set[int] | None, log: Path, env=None) -> dict:
    """Run one client to completion; measure its CPU and what the server saw."""
    mark, load = len(sim.lines), os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with log.open("w") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=log.parent, env=env,
                                preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None)
        cpu = TreeCPU(proc.pid)
        cpu.start()
        code = proc.wait()
        cpu.done.set()
        cpu.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    whole = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    cpu.samples.append((time.monotonic(), whole))  # the exact total at exit: a window may end after the last sample
    server = sim.requests_since(mark, n)
    window = cpu.between(server["start"], server["end"]) if server.get("requests") else None
    return {"exit": code, "load_avg_1m": load, "load_avg_1m_end": os.getloadavg()[0], "server": server, "log": str(log),
            "cpu_ms_per_req": window * 1e3 / n if window is not None else None,
            "cpu_ms_per_req_whole": whole * 1e3 / n}


# ---- the same request for every tool ----------------------------------------------------------------
def prompt() -> tuple[str, str]:
    p = yaml.safe_load((ROOT / "conf" / "prompt" / "cliptagger.yaml").read_text(encoding="utf-8"))
    return p["system"], p["user"]


def write_inputs(tmp: Path, n: int) -> dict[str, Path]:
    system, user = prompt()
    (tmp / "ds").mkdir()
    (tmp / "ds" / "frame.jpg").symlink_to(IMAGE)
    with (tmp / "ds" / "manifest.jsonl").open("w") as fh:  # capbench: N ids over the one image
        fh.writelines(json.dumps({"id": f"r{i:06d}", "image": "frame.jpg"}) + "\n" for i in range(n))
    row = {"system_prompt": system, "prompt": user, "image": str(IMAGE),
           "prompt_tokens_count": IN_TOKENS, "output_tokens_count": OUT_TOKENS}
    (tmp / "guidellm.jsonl").write_text((json.dumps(row) + "\n") * n)  # guidellm sends each row once
    image_url = "data:image/jpeg;base64," + base64.b64encode(IMAGE.read_bytes()).decode()
    body = {"model": MODEL, "max_tokens": OUT_TOKENS, "stream": True, "stream_options": {"include_usage": True},
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": [
                {"type": "text", "text": user}, {"type": "image_url", "image_url": {"url": image_url}}]}]}
    (tmp / "lean_body.json").write_text(json.dumps(body))
    return {"ds": tmp / "ds", "guidellm": tmp / "guidellm.jsonl", "lean": tmp / "lean_body.json"}


# ---- the tools: a command line each, and how to read what it reports ------------------------------
def capbench_cmd(port: int, inp: dict, work: Path, conc: int | None, rate: float | None, n: int) -> list[str]:
    mode = ["runner=open", f"runner.rate={rate}"] if rate else [f"runner.concurrency={conc}"]
    return [sys.executable, "-m", "bench", "model=openai_compatible", f"model.base_url=http://127.0.0.1:{port}/v1",
            f"model.name={MODEL}", f"model.sampling.max_tokens={OUT_TOKENS}", f"dataset.path={inp['ds']}",
            "dataset.name=loadbench", f"runs_dir={work / 'runs'}", "runner.progress=false", "resume=never", *mode]


def capbench_read(work: Path) -> dict:
    m = json.loads(next((work / "runs").rglob("metrics.json")).read_text())
    thr = m.get("throughput", {})
    return {"completed": m["completed"], "failed": m["failed"], "req_s": m["requests_per_s"],
            "tok_s": m["output_tokens_per_s"], "ttft_p50_ms": m["ttft_p50_s"] * 1e3,
            "e2el_p50_ms": m["e2el_p50_s"] * 1e3, "saturated": thr.get("saturated")}


def vllm_cmd(port: int, inp: dict, work: Path, conc: int | None, rate: float | None, n: int) -> list[str]:
    return [str(Path(ARGS.vllm_venv) / "bin" / "vllm"), "bench", "serve", "--backend", "openai-chat",
            "--base-url", f"http://127.0.0.1:{port}", "--endpoint", "/v1/chat/completions", "--model", MODEL,
            "--tokenizer", str(inp["tokenizer"]), "--dataset-name", "custom_image", "--dataset-path",
            str(inp["vllm"]), "--custom-ensure-client-side-data", "--custom-output-len", str(OUT_TOKENS),
            "--num-prompts", str(n),
            "--request-rate", str(rate or "inf"), *(["--max-concurrency", str(conc)] if conc else []),
            "--percentile-metrics", "ttft,tpot,itl,e2el", "--metric-percentiles", "50", "--disable-tqdm",
            "--save-result", "--result-dir", str(work), "--result-filename", "vllm.json"]


def vllm_read(work: Path) -> dict:
    r = json.loads((work / "vllm.json").read_text())
    return {"completed": r["completed"], "failed": r.get("failed", r["num_prompts"] - r["completed"]),
            "req_s": r["request_throughput"], "tok_s": r["output_throughput"],
            "ttft_p50_ms": r["median_ttft_ms"], "e2el_p50_ms": r["median_e2el_ms"]}


def guidellm_cmd(port: int, inp: dict, work: Path, conc: int | None, rate: float | None, n: int) -> list[str]:
    profile = f"kind=poisson,rate={rate}" if rate else f"kind=concurrent,streams={conc}"
    return [str(Path(ARGS.guidellm_venv) / "bin" / "guidellm"), "run", "--backend",
            f"kind=openai_http,target=http://127.0.0.1:{port},model={MODEL}", "--profile", profile,
            "--constraint", f"kind=max_requests,count={n}", "--data", f"kind=json_file,path={inp['guidellm']}",
            "--output", f"kind=json,path={work / 'guidellm.json'}", "--disable-console-interactive"]


def guidellm_read(work: Path) -> dict:
    b = json.loads((work / "guidellm.json").read_text())["benchmarks"][0]
    m, dur = b["metrics"], b["duration"]
    ok = m["request_totals"]["successful"]
    return {"completed": ok, "failed": m["request_totals"]["errored"] + m["request_totals"]["incomplete"],
            "req_s": ok / dur, "tok_s": m["output_token_count"]["successful"]["total_sum"] / dur,
            "ttft_p50_ms": m["time_to_first_token_ms"]["successful"]["median"],
            "e2el_p50_ms": m["request_latency"]["successful"]["median"] * 1e3}


def lean_cmd(port: int, inp: dict, work: Path, conc: int | None, rate: float | None, n: int) -> list[str]:
    return [sys.executable, str(Path(__file__).with_name("lean_client.py")),
            f"http://127.0.0.1:{port}/v1/chat/completions", str(inp["lean"]),
            str(n), str(conc), str(work / "lean.json")]


def lean_read(work: Path) -> dict:
    return json.loads((work / "lean.json").read_text())


def capbench_asyncio_cmd(port: int, inp: dict, work: Path, conc: int | None, rate: float | None, n: int) -> list[str]:
    """capbench on the standard asyncio loop instead of uvloop (bench/eventloop.py): what uvloop is worth."""
    return [*capbench_cmd(port, inp, work, conc, rate, n), "runner.event_loop=asyncio"]


TOOLS = {"capbench": (capbench_cmd, capbench_read), "vllm": (vllm_cmd, vllm_read),
         "guidellm": (guidellm_cmd, guidellm_read), "lean": (lean_cmd, lean_read),
         "capbench-asyncio": (capbench_asyncio_cmd, capbench_read)}
DEFAULT_TOOLS = ["capbench", "vllm", "guidellm", "lean"]


# ---- peers: venvs, an offline tokenizer ------------------------------------------------------------
def peer_ready(name: str) -> str | None:
    """None if the peer can run, else why not (the row is skipped with this note)."""
    venv = Path(getattr(ARGS, f"{name}_venv"))
    exe = venv / "bin" / PEERS[name][1]
    if not exe.exists() and ARGS.install_peers:
        print(f"installing {PEERS[name][0]} into {venv} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", PEERS[name][0]], check=True)
    if not exe.exists():
        return f"{name}: {exe} not found (--install-peers creates it)"
    wanted = PEERS[name][0].split("==")[1]
    infos = venv.glob(f"lib/python*/site-packages/{name}-*.dist-info")
    found = [d.name[len(name) + 1:].removesuffix(".dist-info") for d in infos]
    return None if found == [wanted] else f"{name}: {venv} holds {found or 'no'} {name}, expected {wanted}"


def offline_tokenizer(folder: Path) -> Path:
    """`vllm bench serve` loads a Hugging Face tokenizer by name; give it a local one (no network).

    It only counts prompt tokens for its own statistics with it; the token counts in our table come
    from the server (the simulator counts 4 characters per token, images as 256)."""
    code = ("import sys; from tokenizers import Tokenizer, models, pre_tokenizers, decoders;"
            "from transformers import PreTrainedTokenizerFast;"
            "t = Tokenizer(models.WordLevel({'<unk>': 0, '<eos>': 1}, unk_token='<unk>'));"
            "t.pre_tokenizer = pre_tokenizers.Whitespace(); t.decoder = decoders.WordPiece();"
            "PreTrainedTokenizerFast(tokenizer_object=t, unk_token='<unk>', eos_token='<eos>')"
            ".save_pretrained(sys.argv[1])")
    subprocess.run([str(Path(ARGS.vllm_venv) / "bin" / "python"), "-c", code, str(folder)], check=True)
    return folder


def write_vllm_data(tmp: Path) -> Path:
    """custom_image rows: the prompt as one user text (system + blank line + user: the simulator counts the
    same 979 tokens; vllm's chat backend has no system message) and the image path."""
    system, user = prompt()
    path = tmp / "vllm.jsonl"
    path.write_text(json.dumps({"prompt": f"{system}\n\n{user}", "image_files": [str(IMAGE)]}) + "\n")
    return path


# ---- the run, the table ---------------------------------------------------------------------------
def one(tool: str, sim: Simulator, inp: dict, tmp: Path, n: int, conc: int | None, rate: float | None,
        rep: int, cpus: set[int] | None) -> dict:
    label = f"{tool}-{f'c{conc}' if conc else f'r{rate:g}'}-{rep}"  # no '=': Hydra overrides take paths
    work = tmp / label
    work.mkdir()
    make_cmd, read = TOOLS[tool]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    row = {"tool": tool, "concurrency": conc, "rate": rate, "repeat": rep, "requests": n}
    row.update(run_client(make_cmd(sim.port, inp, work, conc, rate, n), sim, n, cpus, work / "client.log", env))
    try:
        row.update(read(work))
    except (OSError, KeyError, StopIteration, ValueError) as exc:
        row["error"] = f"no result ({exc!r}); see {row['log']}"
    srv = row["server"]
    if srv.get("output_tokens") != [OUT_TOKENS] or srv.get("input_tokens") != [IN_TOKENS] or srv["requests"] < n:
        row["warning"] = (f"server saw {srv['requests']} requests, output tokens {srv.get('output_tokens')}, "
                          f"input tokens {srv.get('input_tokens')} (expected {n} x {IN_TOKENS} in / {OUT_TOKENS} out)")
    print(f"  {label}: " + (row.get("error") or f"{row['req_s']:.1f} req/s, server {srv.get('req_s', 0):.1f}, "
          f"cpu {row['cpu_ms_per_req'] or float('nan'):.1f} ms/req, load {row['load_avg_1m']:.1f}")
          + (f"  WARNING {row['warning']}" if "warning" in row else ""), file=sys.stderr, flush=True)
    return row


def values(rows: list[dict], key: str, sub: str | None = None) -> list[float]:
    vals = [(r[sub] if sub else r).get(key) for r in rows if "error" not in r]
    return [v for v in vals if v is not None]


def med(rows: list[dict], key: str, sub: str | None = None) -> float | None:
    vals = values(rows, key, sub)
    return statistics.median(vals) if vals else None


def cell(vals: list[float], spec: str = ".1f", minus: float = 0.0) -> str:
    """The median, and with several repeats their spread: `median (min..max)`."""
    if not vals:
        return "-"
    vals = [v - minus for v in vals]
    text = format(statistics.median(vals), spec)
    return text if len(vals) < 2 else f"{text} ({min(vals):{spec}}..{max(vals):{spec}})"


def point(conc: int | None, rate: float | None) -> str:
    return f"c={conc}" if conc else f"open {rate:g}/s"


def fmt(v: float | None, spec: str = ".1f") -> str:
    return "-" if v is None else format(v, spec)


def table(rows: list[dict], tools: list[str], notes: list[str]) -> str:
    out = [f"Simulator: TTFT {TRUTH_TTFT_MS:g} ms + {PER_TOKEN_S * 1e3:g} ms/token, no jitter; {IN_TOKENS} in / "
           f"{OUT_TOKENS} out tokens; truth TTFT {TRUTH_TTFT_MS:g} ms, E2EL {TRUTH_E2EL_MS:g} ms. SIMULATED server. "
           f"Medians over repeats, with their spread (min..max) when there are several; load avg = the highest "
           f"1-minute load average at a run's start "
           f"({os.cpu_count()} CPUs: above that, the figures include other processes' contention).", "",
           "| run | tool | req/s | server req/s | out tok/s | TTFT p50 - truth ms | E2EL p50 - truth ms "
           "| server E2EL p50 - truth ms | client CPU ms/req (load phase) | (whole process) | capbench / best peer "
           "| load avg |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    keys = sorted({(r["concurrency"] or 0, r["rate"] or 0) for r in rows}, key=lambda k: (k[1], k[0]))
    for conc, rate in keys:
        at = [r for r in rows if (r["concurrency"] or 0, r["rate"] or 0) == (conc, rate)]
        best_peer = max((med([r for r in at if r["tool"] == p], "req_s") or 0) for p in ("vllm", "guidellm"))
        for tool in tools:
            rs = [r for r in at if r["tool"] == tool]
            if not rs:
                continue
            req_s, e2el = med(rs, "req_s"), med(rs, "e2el_p50_ms")
            ratio = f"{req_s / best_peer:.2f}" if tool == "capbench" and req_s and best_peer else ""
            if rate:  # open loop: held = the achieved rate is near the target and latency did not grow
                expect = rate * ARGS.requests / (ARGS.requests + rate * TRUTH_E2EL_MS / 1e3)
                held = req_s is not None and abs(req_s / expect - 1) <= 0.1 and e2el is not None \
                    and e2el - TRUTH_E2EL_MS < 50
                sat = " SATURATED(capbench)" if any(r.get("saturated") for r in rs) else ""
                ratio = ("held" if held else "NOT held") + sat
            errs = "; ".join(sorted({r.get("error") or r.get("warning") for r in rs} - {None}))
            out.append(f"| {point(conc, rate)} | {tool}"
                       f"{' (ceiling, measured)' if tool == 'lean' else ''} | {cell(values(rs, 'req_s'))} | "
                       f"{cell(values(rs, 'req_s', 'server'))} | {cell(values(rs, 'tok_s'), '.0f')} | "
                       f"{cell(values(rs, 'ttft_p50_ms'), minus=TRUTH_TTFT_MS)} | "
                       f"{cell(values(rs, 'e2el_p50_ms'), minus=TRUTH_E2EL_MS)} | "
                       f"{cell(values(rs, 'e2el_p50_ms', 'server'), minus=TRUTH_E2EL_MS)} | "
                       f"{cell(values(rs, 'cpu_ms_per_req'))} | "
                       f"{cell(values(rs, 'cpu_ms_per_req_whole'))} | {ratio} | "
                       f"{fmt(max(r['load_avg_1m'] for r in rs))} |"
                       + (f" {errs}" if errs else ""))
        if conc:
            out.append(f"| c={conc} | ideal ceiling (c / E2EL truth) | {conc / TRUTH_E2EL_MS * 1e3:.1f} "
                       "| | | | | | | | | |")
    return "\n".join(out + [""] + ratio_table(rows) + [""] + [f"- {n}" for n in notes])


def paired(cap: list[dict], by: dict, peer: str, key: str) -> list[float]:
    """capbench's `key` over the peer's, for each repeat both ran."""
    return [r[key] / by[(peer, r["repeat"])][key] for r in cap
            if (peer, r["repeat"]) in by and r.get(key) and by[(peer, r["repeat"])].get(key)]


CPU_TARGET_MS = 3.7  # issue 12: client CPU per request, at most what `vllm bench serve` used (MISSION.md)


def ratio_table(rows: list[dict]) -> list[str]:
    """capbench against each peer, repeat by repeat (a repeat's runs are back to back, so each ratio compares
    runs under about the same machine load), then the median and spread of those ratios."""
    out = ["capbench against the peers, per repeat (same load point, same repeat), median (min..max):", "",
           "| run | capbench / vllm req/s | capbench / guidellm req/s | capbench / lean req/s "
           "| capbench CPU ms/req | vllm CPU ms/req | capbench / vllm CPU | capbench CPU <= "
           f"{CPU_TARGET_MS} ms | TTFT p50 - truth ms, capbench / vllm | load avg (start..end) "
           "| CPU uvloop / asyncio (capbench-asyncio) |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    keys = sorted({(r["concurrency"] or 0, r["rate"] or 0) for r in rows}, key=lambda k: (k[1], k[0]))
    for conc, rate in keys:
        at = [r for r in rows if (r["concurrency"] or 0, r["rate"] or 0) == (conc, rate) and "error" not in r]
        by = {(r["tool"], r["repeat"]): r for r in at}
        cap = [r for r in at if r["tool"] == "capbench"]
        if not cap:
            continue

        cap_cpu, vllm_cpu = values(cap, "cpu_ms_per_req"), values([r for r in at if r["tool"] == "vllm"],
                                                                      "cpu_ms_per_req")
        verdict = "-" if not cap_cpu else ("yes" if statistics.median(cap_cpu) <= CPU_TARGET_MS else "NO")
        ttft = (f"{cell(values(cap, 'ttft_p50_ms'), minus=TRUTH_TTFT_MS)} / "
                f"{cell(values([r for r in at if r['tool'] == 'vllm'], 'ttft_p50_ms'), minus=TRUTH_TTFT_MS)}")
        loads = [r["load_avg_1m"] for r in at] + [r.get("load_avg_1m_end", r["load_avg_1m"]) for r in at]
        out.append(f"| {point(conc, rate)} | {cell(paired(cap, by, 'vllm', 'req_s'), '.2f')} | "
                   f"{cell(paired(cap, by, 'guidellm', 'req_s'), '.2f')} | "
                   f"{cell(paired(cap, by, 'lean', 'req_s'), '.2f')} | "
                   f"{cell(cap_cpu)} | {cell(vllm_cpu)} | {cell(paired(cap, by, 'vllm', 'cpu_ms_per_req'), '.2f')} | "
                   f"{verdict} | {ttft} | {min(loads):.1f}..{max(loads):.1f} | "
                   f"{cell(paired(cap, by, 'capbench-asyncio', 'cpu_ms_per_req'), '.2f')} |")
    return out


def main() -> None:
    tools = [t for t in ARGS.tools if t in TOOLS]
    notes = [f"{os.cpu_count()} CPUs; simulator pinned to CPU {ARGS.sim_cpu}, clients to the others"
             if ARGS.pin else f"{os.cpu_count()} CPUs; nothing pinned"]
    for peer in [t for t in tools if t in PEERS]:
        if why := peer_ready(peer):
            notes.append(f"skipped {why}")
            tools.remove(peer)
    all_cpus = set(range(os.cpu_count() or 1))
    sim_cpus = {ARGS.sim_cpu} if ARGS.pin else None
    client_cpus = (all_cpus - {ARGS.sim_cpu} or all_cpus) if ARGS.pin else None
    rows: list[dict] = []
    load_at_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="load_peers-") as t:
        tmp = Path(ARGS.workdir or t)
        tmp.mkdir(parents=True, exist_ok=True)
        inp = write_inputs(tmp, ARGS.requests)
        if "vllm" in tools:
            inp["vllm"], inp["tokenizer"] = write_vllm_data(tmp), offline_tokenizer(tmp / "tokenizer")
        sim = Simulator(sim_cpus)
        try:
            plan = [(c, None) for c in ARGS.concurrency] + [(None, r) for r in ARGS.rates]
            for rep in range(ARGS.repeats):
                for conc, rate in plan:
                    order = tools[rep % len(tools):] + tools[:rep % len(tools)]  # rotate: no tool always first
                    for tool in order:
                        if rate and tool == "lean":
                            continue  # the lean client is closed-loop only
                        rows.append(one(tool, sim, inp, tmp, ARGS.requests, conc, rate, rep, client_cpus))
                        if ARGS.out:  # after every run: a benchmark stopped midway keeps what it measured
                            write_out(rows, notes, None)
        finally:
            sim.stop()
    loads = [r["load_avg_1m"] for r in rows] + [r.get("load_avg_1m_end", 0.0) for r in rows]
    if loads:
        notes.append(f"machine load during the benchmark: 1-minute load average {min(loads):.1f}..{max(loads):.1f} "
                     f"on {os.cpu_count()} CPUs (started at {load_at_start:.1f}, ended at {os.getloadavg()[0]:.1f})"
                     + ("; busy machine: req/s and latencies include other processes' contention, CPU per "
                        "request less so" if max(loads) > (os.cpu_count() or 1) else ""))
    text = table(rows, tools, notes)
    print(text)
    if ARGS.out:
        write_out(rows, notes, text)


def write_out(rows: list[dict], notes: list[str], text: str | None) -> None:
    """--out: every run's figures (`table` is None until the benchmark has finished)."""
    Path(ARGS.out).write_text(json.dumps({"settings": dict(vars(ARGS)), "notes": notes,
                                          "truth_ms": {"ttft": TRUTH_TTFT_MS, "e2el": TRUTH_E2EL_MS},
                                          "rows": rows, "table": text}, indent=1))


def table_from(path: str) -> str:
    """The tables of a saved --out file (one that a stopped benchmark left, too)."""
    saved = json.loads(Path(path).read_text())
    tools = list(dict.fromkeys(r["tool"] for r in saved["rows"]))
    return table(saved["rows"], tools, saved["notes"])


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--concurrency", type=int, nargs="*", default=[8, 32, 64])
    ap.add_argument("--rates", type=float, nargs="*", default=[25.0, 100.0], help="open-loop target req/s")
    ap.add_argument("--requests", type=int, default=1000, help="requests per run")
    ap.add_argument("--repeats", type=int, default=1, help="interleaved repeats; the table shows medians")
    ap.add_argument("--tools", nargs="+", default=DEFAULT_TOOLS, choices=list(TOOLS),
                    help="capbench-asyncio: capbench on the standard asyncio event loop (runner.event_loop=asyncio)")
    ap.add_argument("--vllm-venv", default="/work/venvs/vllm")
    ap.add_argument("--guidellm-venv", default="/work/venvs/guidellm")
    ap.add_argument("--install-peers", action="store_true", help="create missing peer venvs (pip install)")
    ap.add_argument("--no-pin", dest="pin", action="store_false", help="do not pin simulator and clients")
    ap.add_argument("--sim-cpu", type=int, default=(os.cpu_count() or 1) - 1)
    ap.add_argument("--workdir", help="keep inputs, client logs and tool outputs here (default: a temp dir)")
    ap.add_argument("--out", help="write every run's figures as JSON here (after each run)")
    ap.add_argument("--table-from", metavar="JSON", help="print the tables of a saved --out file and exit")
    return ap.parse_args()


if __name__ == "__main__":
    ARGS = parse_args()
    if ARGS.table_from:
        ARGS.requests = json.loads(Path(ARGS.table_from).read_text())["settings"]["requests"]
        print(table_from(ARGS.table_from))
    else:
        main()
