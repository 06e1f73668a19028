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
include: "workflow/rules/pdf.smk"
include: "workflow/rules/susy.smk"
include: "workflow/rules/susy_active.smk"
include: "workflow/rules/sbi.smk"
include: "workflow/rules/combine.smk"


rule all:
    default_target: True
    input:
        # The sample stage serves the Higgs and top-tagging tasks.
        rules.sample_summary.output if {"higgs", "toptag"} & set(TASKS) else [],
        rules.sample_plots.output if {"higgs", "toptag"} & set(TASKS) else [],
        task_targets(),
        rules.combine.output,
        rules.provenance.output,


onstart:
    on_start()


onsuccess:
    on_end()


onerror:
    on_end()
