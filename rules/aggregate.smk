rule aggregate:
    input:
        metrics=plan.all_inputs(config),
    output:
        summary=SUMMARY,
    log:
        f"results/{EXP}/logs/aggregate.log",
    conda:
        "../envs/findeval.yaml"
    params:
        experiment=EXP,
    script:
        "../scripts/aggregate.py"
