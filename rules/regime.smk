# The regime table (issue 12, item 1): for every H of the grids, the steps, integrated LR and decay, final
# sparsity, dataset sizes and accuracy step, beside the paper's setting; prunable weights per layer. Computed
# from the config alone (findeval.regime, no torch): it needs neither the dataset nor any training.

from findeval import regime as findeval_regime

REGIME_FILES = [paths.regime(name) for name in EXPERIMENTS]


rule regime:
    output:
        table=reported(
            paths.regime("{exp}"),
            exists=REGIME_FILES,
            caption="../report/regime.rst",
            category="Regime",
            subcategory="{exp}",
            labels={"figure": "regime.csv", "paper": "Section 2.2, A.1"},
        ),
        layers=reported(
            paths.regime_layers("{exp}"),
            exists=[paths.regime_layers(name) for name in EXPERIMENTS],
            caption="../report/regime_layers.rst",
            category="Regime",
            subcategory="{exp}",
            labels={"figure": "regime_layers.csv", "paper": "Section 2.2, A.1"},
        ),
    log:
        paths.log("{exp}", "regime"),
    localrule: True
    conda:
        ENV
    params:
        config=lambda w: findeval_regime.config_params(EXPERIMENTS[w.exp]),
    script:
        "../scripts/regime.py"
