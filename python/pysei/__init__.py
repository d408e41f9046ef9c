"""pysei: a Sei-style, EVM-compatible L1 node — Python node, native revm kernel."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("pysei")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
