from __future__ import annotations

import pytest

from tests.report.simruns import sim_runs as _sim_runs


@pytest.fixture(scope="session")
def sim_runs(tmp_path_factory):
    return _sim_runs(tmp_path_factory.getbasetemp())
