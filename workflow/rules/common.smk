# Shared helpers: config validation, the sample catalogue, paths of library code that rules depend on.

from pathlib import Path

from ml4hep.config import derive_seed, load_schema, validate_config
from ml4hep.errors import ConfigError
from ml4hep.generate.processes import generated_processes, shard_config

validate_config(config, load_schema(Path(workflow.basedir) / "config" / "schema.yaml"))

LIBRARY = Path(workflow.basedir) / "src" / "ml4hep"
GENERATED = generated_processes(config)
IMPORTED = config["inputs"]


def library(*modules):
    """Library source files a rule depends on, so that editing one reruns exactly the rules that use it."""
    return [str(LIBRARY / module) for module in ("__init__.py", "errors.py", "rules.py", *modules)]


def generation_code(sample_set):
    """Library files a generation job of ``sample_set`` runs (the other set's event builder is left out)."""
    common = ("config.py", "io.py", "generate/processes.py", "generate/pythia.py", "generate/record.py",
              "generate/shard.py")
    return library(*common, f"generate/{sample_set}.py")


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
