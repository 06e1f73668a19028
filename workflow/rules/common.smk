# Shared helpers: config validation, the sample catalogue, the library code (import closure) each rule runs.

import os
from pathlib import Path

from ml4hep import workflow_code
from ml4hep.config import derive_seed, load_schema, validate_config
from ml4hep.errors import ConfigError
from ml4hep.generate.processes import generated_processes, shard_config

validate_config(config, load_schema(Path(workflow.basedir) / "config" / "schema.yaml"))

LIBRARY = Path(workflow.basedir) / "src" / "ml4hep"
GENERATED = generated_processes(config)
IMPORTED = config["inputs"]


def script_code(script, without=()):
    """The library files rule script ``scripts/<script>`` runs: its import closure over src/ml4hep (package
    ``__init__`` files and module data included; ml4hep.workflow_code), computed when the workflow is parsed.

    Editing one of them reruns exactly the jobs that run it; the paths are relative to the working directory, so a
    finished project moved to another folder has the same inputs. ``without`` names modules a rule's jobs never reach
    (imported lazily on a code path of other rules that share the script).
    """
    return workflow_code.script_code(Path(workflow.basedir) / "scripts" / script, LIBRARY.parent, os.getcwd(), without)


def generation_code(sample_set):
    """Library files a generation job of ``sample_set`` runs (the other sets' event builders are left out)."""
    others = sorted({"higgs", "toptag"} - {sample_set})
    return script_code("generate_sample.py", without=[f"ml4hep.generate.{other}" for other in others])


def sample_shards(process):
    """The ROOT files of one sample (generated shards or imported user files)."""
    if process in IMPORTED:
        n = len(IMPORTED[process]["files"])
    elif process in GENERATED:
        n = GENERATED[process].shards
    else:
        raise ConfigError(f"unknown sample {process!r}; known: {sorted({*GENERATED, *IMPORTED})}")
    return [f"results/samples/{process}/{shard}.root" for shard in range(n)]


def all_sample_shards():
    """Every sample file of the configured analysis."""
    return [path for process in sorted({*GENERATED, *IMPORTED}) for path in sample_shards(process)]


def names_regex(names):
    """A wildcard constraint matching exactly these names (and nothing when there are none)."""
    import re

    return "|".join(re.escape(name) for name in sorted(names)) or "(?!)"


def gpu_request():
    """GPUs a training job asks for: one when the device may be CUDA (a cluster profile then sends it to a GPU
    node); locally an undeclared resource is unlimited, so a laptop never waits for a GPU it does not have."""
    return 0 if config["device"] == "cpu" else 1
