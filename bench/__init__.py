"""capbench: benchmark structured-JSON captioning models on video frames."""

__version__ = "0.1.0"

from bench.load import load_runs  # noqa: E402  (public API; pandas is imported only when it is called)

__all__ = ["__version__", "load_runs"]
