"""The client's version: one place, read by the build (hatch) and sent in the User-Agent."""

__version__ = "1.0.0"
