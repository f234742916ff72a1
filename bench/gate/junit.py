"""JUnit XML for the gate's checks, so that CI systems list each check.

Written with xml.etree (standard library): the format needs one <testsuite>
of <testcase>s with <failure>/<skipped>, and the `junit-xml` package adds a
dependency (unmaintained since 2020) for twenty lines. The layout follows the
common Jenkins/Surefire schema that GitHub Actions reporters, GitLab and
Jenkins read.
"""

from __future__ import annotations

import platform
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

from bench.gate.checks import FAIL, SKIP, CheckResult


def junit_xml(results: list[CheckResult], *, suite: str, properties: dict[str, str], elapsed_s: float = 0.0) -> str:
    failures = sum(1 for r in results if r.status == FAIL)
    skipped = sum(1 for r in results if r.status == SKIP)
    root = ET.Element("testsuites", name="capbench gate", tests=str(len(results)), failures=str(failures),
                      errors="0", skipped=str(skipped), time=f"{elapsed_s:.3f}")
    ts = ET.SubElement(root, "testsuite", name=suite, tests=str(len(results)), failures=str(failures), errors="0",
                       skipped=str(skipped), time=f"{elapsed_s:.3f}",
                       timestamp=datetime.now(UTC).isoformat(timespec="seconds"), hostname=platform.node())
    props = ET.SubElement(ts, "properties")
    for key, value in properties.items():
        ET.SubElement(props, "property", name=key, value=str(value))
    for r in results:
        case = ET.SubElement(ts, "testcase", classname=suite, name=r.name, time="0")
        summary = f"run {r.measured}; baseline {r.baseline}; limit {r.limit}"
        if r.status == FAIL:
            failure = ET.SubElement(case, "failure", message=f"{r.name}: {summary}", type="GateFailure")
            failure.text = r.detail or summary
        elif r.status == SKIP:
            ET.SubElement(case, "skipped", message=r.detail or "skipped")
        out = ET.SubElement(case, "system-out")
        out.text = summary + (f"\n{r.detail}" if r.detail else "")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(path: str | Path, results: list[CheckResult], **kwargs: object) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(junit_xml(results, **kwargs), encoding="utf-8")  # type: ignore[arg-type]
    return path
