rule prepare_data:
    output:
        data=paths.data("{exp}"),
    log:
        paths.log("{exp}", "prepare_data"),
    conda:
        "../envs/findeval.yaml"
    params:
        dataset=lambda w: DATASETS[EXPERIMENTS[w.exp]["dataset"]["name"]].prepare_params(
            EXPERIMENTS[w.exp]["dataset"]
        ),
    script:
        "../scripts/prepare_data.py"


rule init:
    output:
        init=paths.init("{exp}", "{seed}"),
        reinit=paths.reinit("{exp}", "{seed}"),
        architecture=paths.architecture("{exp}", "{seed}"),
    log:
        paths.log("{exp}", "init", "seed"),
    conda:
        "../envs/findeval.yaml"
    params:
        model=XCFG("model"),
        dataset=XCFG("dataset", "name"),
    script:
        "../scripts/init.py"
