"""capbench: benchmark structured-JSON captioning models on video frames."""

__version__ = "0.1.0"
