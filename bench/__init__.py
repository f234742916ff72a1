"""capbench: benchmark structured-JSON captioning models on video frames."""

from bench._version import __version__
from bench.load import load_runs  # noqa: E402  (public API; pandas is imported only when it is called)

__all__ = ["__version__", "load_runs"]
