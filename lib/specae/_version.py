"""The package version, written into checkpoints and run-cache keys (kept equal to pyproject.toml's)."""

__version__ = "0.1.0"
