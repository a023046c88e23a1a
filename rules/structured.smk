# Structured one-shot pruning by BN scale (Algorithm A2, Section 3.3) with decoupled H_find / H_eval,
# and Rethinking's Scratch-E / Scratch-B baselines (Liu et al., 2019):
#   init_structured -> train_find_structured (dense, H_find) -> prune_structured (ratio: narrow net)
#     -> finetune_structured (H_eval, no rewind) | scratch_e / scratch_b (same narrow net, new init)
#   -> fig5, figA10-A12, figRethinking; structured_speed (dense vs narrow images/s); aggregate_structured.
# Settings and figure inputs: findeval.structured.plan; paths: findeval.paths. Off unless the config has a
# `structured:` block.

from findeval.structured import plan as splan

splan.check(config)
SCFG = splan.settings(config)
# The main experiment's own rules: their patterns name EXP (rules/common.smk). aggregate_structured keeps {exp}
# (its script reads it).


# MAIN.structured (the main experiment's structured settings) is in rules/common.smk.


# the grammar structured_plan.parse_ratio accepts
wildcard_constraints:
    ratio=splan.RATIO,


rule init_structured:
    output:
        init=paths.structured_init(EXP, "{seed}"),
    log:
        paths.log(EXP, "structured/init", "seed"),
    conda:
        ENV
    params:
        model=MAIN.structured("model"),
        dataset=MAIN.cfg("dataset", "name"),
    script:
        "../scripts/init_structured.py"


rule train_find_structured:
    input:
        start=paths.structured_init(EXP, "{seed}"),
        data=paths.data(EXP),
    output:
        trained=paths.structured_dense(EXP, "{hfind}", "{seed}", "trained"),
        metrics=paths.structured_dense(EXP, "{hfind}", "{seed}", "metrics"),
    log:
        paths.log(EXP, "structured/train_find", "hfind", "seed"),
    benchmark:
        paths.benchmark(EXP, "structured/train_find", "hfind", "seed")
    conda:
        ENV
    threads: RUNTIME["threads"]
    resources:
        **GPU,
    params:
        **MAIN.train(MAIN.structured("training")),
        kind="dense",
        hfind="{hfind}",
        heval="{hfind}",
        ratio=0.0,
    script:
        "../scripts/train_structured.py"


rule prune_structured:
    input:
        trained=paths.structured_dense(EXP, "{hfind}", "{seed}", "trained"),
        data=paths.data(EXP),
    output:
        pruned=paths.structured_pruned(EXP, "{hfind}", "{seed}", "{ratio}", "pruned"),
        channels=paths.structured_pruned(EXP, "{hfind}", "{seed}", "{ratio}", "channels"),
    log:
        paths.log(EXP, "structured/prune", "hfind", "seed", "ratio"),
    conda:
        ENV
    script:
        "../scripts/prune_structured.py"


rule finetune_structured:
    input:
        start=paths.structured_pruned(EXP, "{hfind}", "{seed}", "{ratio}", "pruned"),
        data=paths.data(EXP),
    output:
        metrics=paths.structured_run(EXP, "finetune", "{hfind}", "{heval}", "{seed}", "{ratio}"),
    log:
        paths.log(EXP, "structured/finetune", "hfind", "heval", "seed", "ratio"),
    benchmark:
        paths.benchmark(EXP, "structured/finetune", "hfind", "heval", "seed", "ratio")
    conda:
        ENV
    threads: RUNTIME["threads"]
    resources:
        **GPU,
    params:
        **MAIN.train(MAIN.structured("training")),
        kind="finetune",
        hfind="{hfind}",
        heval="{heval}",
        ratio=lambda w: splan.parse_ratio(w.ratio),
    script:
        "../scripts/train_structured.py"


# Scratch-E: E epochs; Scratch-B: floor(E * FLOPs_dense / FLOPs_pruned) epochs, milestones scaled alike
# (findeval.structured.jobs.scratch_b_training). pruned.pt gives the architecture only: new random init.
for _scratch in ("scratch_e", "scratch_b"):

    rule:
        name:
            _scratch
        input:
            start=paths.structured_pruned(EXP, "{hfind}", "{seed}", "{ratio}", "pruned"),
            data=paths.data(EXP),
        output:
            metrics=paths.structured_run(EXP, _scratch, "{hfind}", "{heval}", "{seed}", "{ratio}"),
        log:
            paths.log(EXP, f"structured/{_scratch}", "hfind", "heval", "seed", "ratio"),
        benchmark:
            paths.benchmark(EXP, f"structured/{_scratch}", "hfind", "heval", "seed", "ratio")
        conda:
            ENV
        threads: RUNTIME["threads"]
        resources:
            **GPU,
        params:
            **MAIN.train(MAIN.structured("training")),
            kind=_scratch,
            hfind="{hfind}",
            heval="{heval}",
            ratio=lambda w: splan.parse_ratio(w.ratio),
        script:
            "../scripts/train_structured.py"


rule structured_speed:
    input:
        unpack(lambda w: splan.speed_inputs(config)),
        data=paths.data(EXP),
    output:
        speed=paths.structured_speed(EXP),
    log:
        paths.log(EXP, "structured/speed"),
    conda:
        ENV
    threads: lambda w: SCFG["speed"]["threads"]
    params:
        speed=MAIN.structured("speed"),
    script:
        "../scripts/speed_structured.py"


rule aggregate_structured:
    input:
        metrics=at_dag_time(splan.all_inputs),
    output:
        summary=paths.structured_summary("{exp}"),
    log:
        paths.log("{exp}", "structured/aggregate"),
    conda:
        ENV
    script:
        "../scripts/aggregate_structured.py"
