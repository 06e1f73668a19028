# ml4hep: one reproducible workflow from ROOT ntuples to trained models, plots and limit tables.
#   snakemake --cores all                        embedded default config (config/config.yaml)
#   snakemake --cores all --configfile config/test.yaml
# The config is validated against config/schema.yaml before any job runs (defaults filled in).

from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/samples.smk"
include: "workflow/rules/toptag.smk"
include: "workflow/rules/higgs.smk"


rule all:
    default_target: True
    input:
        rules.sample_summary.output,
        rules.toptag_evaluate.output,
        rules.higgs_evaluate.output,
        rules.higgs_limits.output,
        rules.higgs_regression.output,
        rules.higgs_metrics.output,
