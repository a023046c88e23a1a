rule aggregate:
    input:
        metrics=at_dag_time(plan.all_inputs),
    output:
        summary=SUMMARY,
    log:
        paths.log(EXP, "aggregate"),
    conda:
        "../envs/findeval.yaml"
    params:
        experiment=EXP,
    script:
        "../scripts/aggregate.py"
