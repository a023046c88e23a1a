rule aggregate:
    input:
        metrics=at_dag_time(plan.all_inputs),
    output:
        summary=SUMMARY,
    log:
        paths.log(EXP, "aggregate"),
    conda:
        ENV
    params:
        experiment=EXP,
    script:
        "../scripts/aggregate.py"
