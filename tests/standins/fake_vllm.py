"""A stand-in for `vllm serve` in tests: no GPU here, so the lifecycle (start, /health, run, stop, log)
is tested with this script, which accepts vLLM's command line and then becomes the capbench
simulator (SIMULATED captions, never a model).

FAKE_VLLM_MODE=die           exits during start-up, like vLLM without a GPU
FAKE_VLLM_MODE=never_healthy keeps running without ever answering /health
FAKE_VLLM_PIDFILE=PATH       writes its pid there (tests check nothing is left behind); `{gpu}` in PATH
                             becomes CUDA_VISIBLE_DEVICES, so each replica writes its own
"""

import argparse
import os
import sys
import time

if "--version" in sys.argv:
    print("0.0.0+capbench-standin")
    sys.exit(0)

parser = argparse.ArgumentParser()
parser.add_argument("model")
parser.add_argument("--host", default="127.0.0.1")
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--served-model-name")
args, rest = parser.parse_known_args()
print(f"fake vllm stand-in: model={args.model} served={args.served_model_name} flags={' '.join(rest)} "
      f"CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')}", flush=True)
if os.environ.get("FAKE_VLLM_PIDFILE"):
    with open(os.environ["FAKE_VLLM_PIDFILE"].replace("{gpu}", os.environ.get("CUDA_VISIBLE_DEVICES", "")),
              "w") as fh:
        fh.write(str(os.getpid()))
mode = os.environ.get("FAKE_VLLM_MODE", "")
if mode == "die":
    print("RuntimeError: No CUDA GPUs are available (stand-in)", flush=True)
    sys.exit(3)
if mode == "never_healthy":
    while True:
        time.sleep(1)
os.execv(sys.executable, [sys.executable, "-m", "bench.sim", "--host", args.host, "--port", str(args.port)])
