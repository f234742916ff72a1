"""CI regression gates: `python -m bench.gate RUN_DIR --baseline BASELINE [gate=NAME]` (see docs/ci-gate.md)."""

from bench.gate.checks import CheckResult, run_checks
from bench.gate.inputs import GateInputError, GateSide, load_side, write_baseline
from bench.gate.verify import check_pairing, load_checked_side

__all__ = ["CheckResult", "GateInputError", "GateSide", "check_pairing", "load_checked_side", "load_side", "run_checks",
           "write_baseline"]
