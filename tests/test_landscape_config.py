"""config/landscape.yaml: the real TopLandscape files with every tagger at its paper's size."""

from __future__ import annotations

from ml4hep.config import DEFAULT_CONFIG_PATH, load_config
from ml4hep.generate.processes import generated_processes
from ml4hep.toptag.models import build_model

from .conftest import ROOT


def test_the_landscape_config_reads_the_three_files_and_generates_nothing():
    # merged over the embedded default, as the workflow merges it
    config = load_config(ROOT / "config" / "landscape.yaml", base=DEFAULT_CONFIG_PATH)
    assert config["tasks"] == ["toptag"] and config["device"] == "auto"
    assert config["toptag"]["samples"] == ["tl_train", "tl_val", "tl_test"]
    assert config["toptag"]["predefined_split"] == {
        "train": ["tl_train"],
        "val": ["tl_val"],
        "test": ["tl_test"],
    }
    assert all(entry["format"] == "toplandscape_hdf5" for entry in config["inputs"].values())
    assert generated_processes(config) == {}


def test_the_landscape_taggers_have_their_papers_sizes():
    models = load_config(ROOT / "config" / "landscape.yaml")["toptag"]["models"]

    def parameters(name: str) -> int:
        hyper = {key: value for key, value in models[name].items() if key != "learning_rate" and value is not None}
        return sum(p.numel() for p in build_model(name, **hyper).parameters())

    # ParT: 2.14M parameters (arXiv:2202.03772, table 3); ParticleNet: 366k (arXiv:1902.08570, table 4).
    assert 2.0e6 < parameters("part") < 2.3e6
    assert 3.3e5 < parameters("particlenet") < 4.0e5
