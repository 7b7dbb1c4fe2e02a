"""msgtrace: offline analysis of Microsoft 365 / Exchange message trace exports.

Data flows one way through the stages of this package::

    files -> encoding -> formats -> ingest (canonical events, a case) -> chains
          -> findings -> report / search

Each stage is one module and imports only the stages before it; ``analyzer.cli`` is a thin
click layer over them.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("msgtrace")
except PackageNotFoundError:  # running from a source checkout that was not installed
    __version__ = "0.1.0"
