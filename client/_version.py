"""The single source of the distribution's version (hatch reads it from here)."""

__version__ = "0.1.0"
