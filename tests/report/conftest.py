from __future__ import annotations

import pytest

from tests.report.cdp import chromium_path
from tests.report.simruns import sim_runs as _sim_runs


@pytest.fixture(scope="session")
def sim_runs(tmp_path_factory):
    return _sim_runs(tmp_path_factory.getbasetemp())


@pytest.fixture
def browser():
    if chromium_path() is None:
        pytest.skip("chromium is not installed (Debian: apt-get install -y chromium); browser tests skipped")
    from tests.report.cdp import Browser

    with Browser() as b:
        yield b
