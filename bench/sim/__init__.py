"""capbench's local simulator: a real HTTP server speaking the OpenAI, Anthropic
and Gemini wire protocols, with deterministic captions, latency and faults.

Run it with `python -m bench.sim --port 0`, or in-process with `SimServer`.
"""

from bench.sim.server import SimServer, build_app

__all__ = ["SimServer", "build_app"]
