# The regime table (issue 12, item 1): for every H of the grids, the steps, integrated LR and decay, final
# sparsity, dataset sizes and accuracy step, beside the paper's setting; prunable weights per layer. Computed
# from the config alone (findeval.regime, no torch): it needs neither the dataset nor any training.

from findeval import regime as findeval_regime

REGIME_FILES = [f"results/{name}/regime.csv" for name in EXPERIMENTS]


rule regime:
    output:
        table="results/{exp}/regime.csv",
        layers="results/{exp}/regime_layers.csv",
    log:
        "results/{exp}/logs/regime.log",
    localrule: True
    conda:
        "../envs/findeval.yaml"
    params:
        config=lambda w: {k: EXPERIMENTS[w.exp][k] for k in findeval_regime.BLOCKS},
    script:
        "../scripts/regime.py"
