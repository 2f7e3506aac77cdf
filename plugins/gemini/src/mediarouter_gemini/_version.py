"""The release version: the one place it is written (hatch reads it; see docs/releasing.md)."""

__version__ = "0.1.0"
