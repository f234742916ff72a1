"""HTML: one self-contained file (plotly.js embedded once, thumbnails as data URIs, no network).

Untrusted text (everything a model wrote, and anything else from run folders)
reaches the page in two ways only, both escaped:
- in the server-rendered tables, through Jinja2 with autoescape on;
- as JSON inside <script type="application/json">, with <, >, & and the
  line separators written as \\u escapes (so "</script>" cannot end the block),
  which the page's script reads with JSON.parse and puts into the page with
  textContent, never innerHTML.
A Content-Security-Policy with a per-report nonce is a second wall: only the
report's own <script> elements run, and the page may not fetch anything.
"""

from __future__ import annotations

import json
import math
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

TEMPLATES = Path(__file__).parent / "templates"
# <, >, & and the JS line separators as \\u escapes; applied with chained str.replace (one C-level scan per
# character, ~38x faster than str.translate on a large payload, same output: tests/report/test_script_json.py)
JSON_ESCAPES = (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029"))


def script_json(value: Any) -> Markup:
    """JSON safe to place inside <script type="application/json">."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_default)
    for char, escape in JSON_ESCAPES:
        text = text.replace(char, escape)
    return Markup(text)  # noqa: S704 (escaped above: no < > & left)


def _default(x: Any) -> Any:
    if isinstance(x, float) and (math.isnan(x) or math.isinf(x)):
        return None
    if hasattr(x, "item"):  # numpy scalars
        return x.item()
    return str(x)


def _clean(value: Any) -> Any:
    """NaN/inf -> None everywhere (JSON has no NaN)."""
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


@lru_cache(maxsize=1)
def plotly_js() -> Markup:
    from plotly.offline import get_plotlyjs

    js = get_plotlyjs()
    if "</script" in js.lower():  # never expected; would end the element early
        js = js.replace("</script", "<\\/script").replace("</SCRIPT", "<\\/SCRIPT")
    return Markup(js)  # noqa: S704 (our own dependency's bundle, not report data)


def _pct(x: Any, digits: int = 1) -> str:
    return "–" if x is None else f"{100 * x:.{digits}f}%"


def _num(x: Any, digits: int = 2) -> str:
    return "–" if x is None else f"{x:,.{digits}f}"


def _money(x: Any) -> str:
    return "–" if x is None else (f"${x:,.0f}" if x >= 100 else f"${x:,.2f}")


def _env() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(("html", "j2"),
                                                                                       default=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(pct=_pct, num=_num, money=_money, script_json=script_json)
    return env


def render(data: dict[str, Any], *, embed_plotly: bool = True, csp: bool = True) -> str:
    """The report page. `csp=False` drops the Content-Security-Policy (tests use it to show that escaping
    alone keeps model output inert)."""
    data = _clean(data)
    page = {k: data[k] for k in ("figures", "frames", "labels", "fields", "quality", "significance")}
    page["timeline"] = data.get("timeline") or {"applicable": False}
    page["baseline"] = data.get("baseline")  # the baseline diff view (bench.report.baseline), None without one
    page["card"] = data.get("card")  # bench.report.card: the model card's section, when the runs are a card's
    page["explorer"] = {k: v for k, v in (data.get("explorer") or {}).items() if k in ("total", "sampled", "large")}
    # the pairwise section's figures are drawn like every figure (js/plots.js: [data-fig])
    page["figures"] = {**page["figures"], **{f"pairwise_{k}": v for k, v in
                                             ((data.get("pairwise") or {}).get("figures") or {}).items()}}
    return _env().get_template("report.html.j2").render(
        d=data, page_data=script_json(page), plotly_js=plotly_js() if embed_plotly else Markup(""),
        nonce=secrets.token_urlsafe(16), csp=csp)
