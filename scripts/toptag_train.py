"""Rules toptag_train_baseline / toptag_train_network: train one tagger, write model, scores and info.

The splits are opened as chunked files: the networks stream their inputs batch by batch, the cut and BDT taggers
read only the small substructure, label and origin columns (whole), never the constituents or images.
"""

from ml4hep.chunked import limit_heap_growth
from ml4hep.models.step import fit_context, train_and_score
from ml4hep.rules import rule_context
from ml4hep.toptag.preprocess import SPLITS, load_split
from ml4hep.toptag.taggers import TAGGERS

with rule_context(snakemake):
    limit_heap_growth()
    inputs = {split: snakemake.input[split] for split in SPLITS}
    # the chunk size sets the streamed batches, so a checkpoint of another chunk size is not resumed
    context = fit_context(snakemake, inputs, chunk_size=snakemake.params.chunk_size)
    train_and_score(
        TAGGERS.create(snakemake.wildcards.tagger, snakemake.params.hyper),
        {split: load_split(path, snakemake.params.chunk_size) for split, path in inputs.items()},
        context,
        model_path=snakemake.output.model,
        scores_path=snakemake.output.scores,
        info_path=snakemake.output.info,
        onnx_path=snakemake.output.get("onnx"),
        samples=snakemake.params.samples,
    )
