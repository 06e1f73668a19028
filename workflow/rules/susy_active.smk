# Active learning of the SUSY exclusion (arXiv:1905.08628): a pool of unlabelled pMSSM-19 points -> a random
# initial set labelled by the recast -> rounds of train / score the pool / label the least certain points (plus a
# random share), for the active and the random strategy on the same budget -> learning curves on the SUSY test split.
# The number of rounds and the batch are config, so every round's files are known when the workflow is parsed: round
# k is one job that reads round k - 1's labelled sets (no checkpoint needed; one would be for a stopping rule that
# decides the number of rounds from the data). One job runs both strategies of a round: on the tiny config a job's
# start (scikit-learn and pyhf imports) costs more CPU than its training and labels.

from ml4hep.susy.strategies import STRATEGIES as SUSY_ACTIVE_STRATEGIES

SUSY_ACTIVE = config["susy_active"]
SUSY_ACTIVE_ROUNDS = SUSY_ACTIVE["rounds"]


rule susy_active_pool:
    input:
        grid=susy_grid_for_recast(),
        toys=SUSY_TOYS,
        code=script_code("susy_active_pool.py"),
    output:
        pool="results/susy_active/pool.npz",
        summary="results/susy_active/pool.json",
        labelled=susy_active_labelled(0),
    log:
        "results/logs/susy_active/pool.log",
    benchmark:
        "results/benchmarks/susy_active/pool.tsv"
    conda:
        "../../envs/ml4hep.yaml"
    params:
        options=SUSY_ACTIVE,
        ranges=SUSY["scan"]["ranges"],
        inputs=SUSY["inputs"],
        recast=SUSY["recast"],
        strategies=SUSY_ACTIVE_STRATEGIES,
        seeds={
            "pool": derive_seed(config["seed"], "susy_active", "pool"),
            "initial": derive_seed(config["seed"], "susy_active", "initial"),
        },
    script:
        "../../scripts/susy_active_pool.py"


rule susy_active_round:
    input:
        pool="results/susy_active/pool.npz",
        test="results/susy/dataset/test.npz",
        val="results/susy/dataset/val.npz",
        previous=lambda wc: susy_active_labelled(int(wc.round) - 1),
        grid=susy_grid_for_recast(),
        toys=SUSY_TOYS,
        code=script_code("susy_active_round.py"),
    output:
        labelled=susy_active_labelled("{round}"),
        record="results/susy_active/rounds/round{round}.json",
    log:
        "results/logs/susy_active/round{round}.log",
    benchmark:
        "results/benchmarks/susy_active/round{round}.tsv"
    wildcard_constraints:
        round=r"[1-9]\d*",
    conda:
        "../../envs/ml4hep.yaml"
    params:
        options=SUSY_ACTIVE,
        hyper=SUSY[SUSY_ACTIVE["classifier"]],
        recast=SUSY["recast"],
        strategies=SUSY_ACTIVE_STRATEGIES,
        # the same training and selection seeds for both strategies: they differ only in what they label
        seeds=lambda wc: {
            "train": derive_seed(config["seed"], "susy_active", "train", int(wc.round) - 1),
            "select": derive_seed(config["seed"], "susy_active", "select", int(wc.round) - 1),
        },
    script:
        "../../scripts/susy_active_round.py"


rule susy_active_evaluate:
    input:
        pool="results/susy_active/pool.npz",
        test="results/susy/dataset/test.npz",
        val="results/susy/dataset/val.npz",
        rounds=expand("results/susy_active/rounds/round{round}.json", round=range(1, SUSY_ACTIVE_ROUNDS + 1)),
        final=susy_active_labelled(SUSY_ACTIVE_ROUNDS),
        code=script_code("susy_active_evaluate.py"),
    output:
        metrics="results/susy_active/metrics.json",
        csv="results/susy_active/learning_curve.csv",
        md="results/susy_active/learning_curve.md",
        tex="results/susy_active/learning_curve.tex",
        html=report(
            "results/susy_active/learning_curve.html",
            caption="../report/susy_active_table.rst",
            category="SUSY active learning",
            labels={"result": "learning curves (table)", "type": "table"},
        ),
        plot=report(
            "results/susy_active/plots/learning_curve.png",
            caption="../report/susy_active_learning_curve.rst",
            category="SUSY active learning",
            labels={"result": "accuracy vs labelled points", "type": "figure"},
        ),
        plot_pdf="results/susy_active/plots/learning_curve.pdf",
    log:
        "results/logs/susy_active/evaluate.log",
    benchmark:
        "results/benchmarks/susy_active/evaluate.tsv"
    conda:
        "../../envs/ml4hep.yaml"
    params:
        options=SUSY_ACTIVE,
        hyper=SUSY[SUSY_ACTIVE["classifier"]],
        strategies=SUSY_ACTIVE_STRATEGIES,
        display_name=SUSY_MODELS.display_names()[SUSY_ACTIVE["classifier"]],
        train_seed=derive_seed(config["seed"], "susy_active", "train", SUSY_ACTIVE_ROUNDS),
    script:
        "../../scripts/susy_active_evaluate.py"
