rule aggregate:
    input:
        metrics=at_dag_time(plan.all_inputs),
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
