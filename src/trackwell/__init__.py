"""trackwell: a schema-first customer event pipeline."""

__version__ = "0.1.0"

__all__ = ["__version__"]
