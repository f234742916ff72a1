"""The leanest closed-loop client we could write, to measure the simulator's ceiling (benchmarks/load_peers.py).

    python benchmarks/lean_client.py URL BODY_FILE REQUESTS CONCURRENCY OUT_JSON

Sends the same prebuilt request bytes REQUESTS times with CONCURRENCY streams (one connection each) and
tests each SSE line's bytes instead of parsing it: TTFT at the first non-empty content chunk, output
tokens from the final usage chunk. Writes completed, failed, req_s, tok_s, ttft_p50_ms, e2el_p50_ms.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

import aiohttp


async def lean_client(url: str, body: bytes, n: int, conc: int) -> dict:
    ttfts, e2els, tokens, failed = [], [], 0, 0
    todo = iter(range(n))

    async def stream(session: aiohttp.ClientSession) -> None:
        nonlocal tokens, failed
        for _ in todo:
            t0, ttft = time.perf_counter(), None
            try:
                async with session.post(url, data=body, headers={"Content-Type": "application/json"}) as r:
                    r.raise_for_status()
                    async for line in r.content:
                        if ttft is None and b'"content":"' in line and b'"content":""' not in line:
                            ttft = time.perf_counter() - t0
                        elif line.startswith(b'data: {"id"') and b'"usage":{' in line:
                            tokens += json.loads(line[6:])["usage"]["completion_tokens"]
            except aiohttp.ClientError:
                failed += 1
                continue
            e2els.append(time.perf_counter() - t0)
            ttfts.append(ttft)

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=conc)) as session:
        t = time.perf_counter()
        await asyncio.gather(*(stream(session) for _ in range(conc)))
        wall = time.perf_counter() - t
    return {"completed": len(e2els), "failed": failed, "req_s": len(e2els) / wall, "tok_s": tokens / wall,
            "ttft_p50_ms": statistics.median(t for t in ttfts if t is not None) * 1e3,
            "e2el_p50_ms": statistics.median(e2els) * 1e3}


if __name__ == "__main__":
    url, body_file, n, conc, out = sys.argv[1:6]
    result = asyncio.run(lean_client(url, Path(body_file).read_bytes(), int(n), int(conc)))
    Path(out).write_text(json.dumps(result))
