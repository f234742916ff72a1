from __future__ import annotations

import os

import pytest

from tests.report.cdp import chromium_path
from tests.report.simruns import sim_runs as _sim_runs


@pytest.fixture(scope="session")
def sim_runs(tmp_path_factory):
    return _sim_runs(tmp_path_factory.getbasetemp())


@pytest.fixture
def browser():
    if chromium_path() is None:
        if os.environ.get("CAPBENCH_REQUIRE_BROWSER"):  # set by .ci/run: CI must not skip these
            pytest.fail("chromium is required (CAPBENCH_REQUIRE_BROWSER is set) but not installed")
        pytest.skip("chromium is not installed (Debian: apt-get install -y chromium); browser tests skipped")
    from tests.report.cdp import Browser

    with Browser() as b:
        yield b
