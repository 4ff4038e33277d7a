"""The package version (its own module: imported by provenance and the CLI without the API)."""

__version__ = "0.1.0"
