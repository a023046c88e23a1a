rule prepare_data:
    output:
        data=paths.data("{exp}"),
    log:
        paths.log("{exp}", "prepare_data"),
    conda:
        ENV
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
        ENV
    params:
        model=JOB.cfg("model"),
        dataset=JOB.cfg("dataset", "name"),
    script:
        "../scripts/init.py"
