"""The one error hierarchy of msgtrace.

Every error a user can cause (a bad file, a bad option, an unknown message id) is an
``AnalyzerError``; the command line turns it into a one-line message without a traceback.
"""


class AnalyzerError(Exception):
    """Base class of every error msgtrace reports to a user."""


class InputError(AnalyzerError):
    """An input file cannot be read as any export (names the file and says what to do)."""

    def __init__(self, path: str, message: str):
        self.path = path
        super().__init__(f"{path}: {message}")


class CaseError(AnalyzerError):
    """A case folder is missing, damaged or of an unknown version."""


class NotFoundError(AnalyzerError):
    """A message, recipient or other entity asked for is not in the data."""


class OptionError(AnalyzerError):
    """An option value is not usable (a bad time, time zone, threshold or filter)."""
