rule aggregate:
    input:
        metrics=plan.all_inputs(config),
    output:
        summary="results/{exp}/summary.csv",
    log:
        "results/{exp}/logs/aggregate.log",
    conda:
        "../envs/findeval.yaml"
    params:
        experiment=EXP,
    script:
        "../scripts/aggregate.py"
