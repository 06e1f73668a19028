"""Exception types for user mistakes.

Each kind of user error has its own type so that rule scripts and the CLI can print one clear line naming the
file or key that is wrong, instead of a traceback.
"""

from __future__ import annotations


class Ml4hepError(Exception):
    """Base class of every error caused by user input (config, files); printed without a traceback."""


class ConfigError(Ml4hepError):
    """A config key is unknown, has the wrong type or an invalid value."""


class InputFileError(Ml4hepError):
    """An input file is missing, unreadable, truncated or lacks a tree or a branch."""

    def __init__(self, path: str, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class EmptySampleError(InputFileError):
    """An input sample holds no entries."""


class GenerationError(Ml4hepError):
    """Event generation could not be set up (e.g. Pythia rejected a setting)."""


class OutputPathError(Ml4hepError):
    """An output path cannot be written without losing something (it is an input, a folder, or not writable)."""

    def __init__(self, path: str, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")
