"""The version of kit (one place; the package and the scaffold read it)."""

__version__ = "0.1.0"
