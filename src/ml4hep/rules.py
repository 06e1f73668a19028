"""Support for the thin rule scripts: logging into the rule's log file and clean user-error exits.

A rule script does only::

    with rule_context(snakemake) as log:
        ...call the library...

Inside, everything the job prints (Python logging, tqdm progress, Pythia's C++ output) goes to the rule's log file,
and an :class:`~ml4hep.errors.Ml4hepError` ends the job with one line ``ERROR: <file or key>: <problem>`` on stderr
and in the log, instead of a traceback.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from typing import Any

from ml4hep.errors import Ml4hepError, name_user_files


@contextlib.contextmanager
def rule_context(smk: Any) -> Iterator[logging.Logger]:
    """Run a rule script's body with logging to its log file and a one-line exit on user errors.

    Args:
        smk: The ``snakemake`` object of a ``script:`` rule (``log`` may be empty).

    Yields:
        The logger to use in the script.
    """
    log_path = str(smk.log[0]) if len(smk.log) else None
    saved_err = os.dup(2)
    logger = logging.getLogger("ml4hep")
    handler: logging.Handler
    if log_path:
        os.makedirs(os.path.dirname(log_path) or ".", exist_ok=True)
        log_file = open(log_path, "w", buffering=1)  # noqa: SIM115 - closed in finally
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(log_file.fileno(), 1)
        os.dup2(log_file.fileno(), 2)
        handler = logging.StreamHandler(log_file)
    else:
        log_file = None
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    # The job's handler replaces the root's for the body and the root's come back after it: a process that runs
    # several rule bodies (the tests) must not keep logging into a closed log file.
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    root.handlers = [handler]
    root.setLevel(logging.INFO)
    rule = getattr(smk, "rule", "rule")
    try:
        yield logger
    except Ml4hepError as error:
        # the user knows the files they listed in `inputs`, not the workflow's copies of them
        text = name_user_files(str(error), (getattr(smk, "config", None) or {}).get("inputs", {}))
        message = f"ERROR in rule {rule}: {text}"
        logger.error("%s", text)
        with os.fdopen(os.dup(saved_err), "w") as stderr:
            stderr.write(message + "\n")
        raise SystemExit(1) from None
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        root.handlers = saved_handlers
        root.setLevel(saved_level)
        if log_file is not None:
            os.dup2(saved_err, 2)
            log_file.close()
        os.close(saved_err)
