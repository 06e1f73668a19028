"""Exception types for user mistakes.

Each kind of user error has its own type so that rule scripts and the CLI can print one clear line naming the
file or key that is wrong, instead of a traceback.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any


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


# A sample file of the workflow, or a per-shard table derived from it: results/samples/{sample}/{shard}.root,
# results/{task}/features/shards/{sample}/{shard}.{root,npz} (with whatever folder the message puts before results/).
_SAMPLE_FILE = re.compile(
    r"(?P<path>(?:[^\s,:;'\"()]*/)?results/(?:samples|\w+/features/shards)/(?P<sample>[^\s/,:;'\"()]+)/(?P<shard>\d+)"
    r"\.(?:root|npz))"
)


def name_user_files(message: str, inputs: Mapping[str, Mapping[str, Any]]) -> str:
    """``message`` with every workflow copy of a user's file named by the user's file.

    A job that reads an imported sample reads the copy under ``results/samples/`` (or a table derived from it), so
    its error names that copy; the user knows the file they listed in ``inputs``.

    Args:
        message: An error message.
        inputs: The config's ``inputs`` (sample -> entry with ``files``).

    Returns:
        The message, each such path replaced by ``<user's file> (as <path>)``.

    Example:
        >>> name_user_files("results/samples/mine/1.root: empty", {"mine": {"files": ["a.root", "b.root"]}})
        'b.root (as results/samples/mine/1.root): empty'
    """

    def user_file(match: re.Match[str]) -> str:
        files = list(inputs.get(match["sample"], {}).get("files", []))
        shard = int(match["shard"])
        return f"{files[shard]} (as {match['path']})" if shard < len(files) else match["path"]

    return _SAMPLE_FILE.sub(user_file, message)
