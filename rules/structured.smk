# Structured one-shot pruning by BN scale (Algorithm A2, Section 3.3) with decoupled H_find / H_eval,
# and Rethinking's Scratch-E / Scratch-B baselines (Liu et al., 2019):
#   init_structured -> train_find_structured (dense, H_find) -> prune_structured (ratio: narrow net)
#     -> finetune_structured (H_eval, no rewind) | scratch_e / scratch_b (same narrow net, new init)
#   -> fig5, figA10-A12, figRethinking; structured_speed (dense vs narrow images/s); aggregate_structured.
# Paths and figure inputs: findeval.structured_plan. Off unless the config has a `structured:` block.

from findeval import structured_plan as splan

splan.check(config)
SCFG = splan.settings(config)
STRUCTURED_TARGETS = splan.targets(config)
# the main experiment's own rules (MAIN, rules/common.smk); aggregate_structured keeps {exp} (its script reads it)
SDIR = MAIN("results/{exp}/structured")


# SX (a params function: the structured settings of the job's experiment) is in rules/common.smk.


wildcard_constraints:
    ratio=r"[0-9][0-9.e-]*",


rule init_structured:
    output:
        init=f"{SDIR}/seed{{seed}}/init.pt",
    log:
        MAIN("results/{exp}/logs/structured/init/seed{seed}.log"),
    conda:
        "../envs/findeval.yaml"
    params:
        model=MAIN_SX("model"),
        dataset=MAIN_CFG("dataset", "name"),
    script:
        "../scripts/init_structured.py"


rule train_find_structured:
    input:
        start=f"{SDIR}/seed{{seed}}/init.pt",
        data=MAIN("results/{exp}/dataset.npz"),
    output:
        trained=f"{SDIR}/find/{{hfind}}/seed{{seed}}/dense/trained.pt",
        metrics=f"{SDIR}/find/{{hfind}}/seed{{seed}}/dense/metrics.json",
    log:
        MAIN("results/{exp}/logs/structured/train_find/{hfind}/seed{seed}.log"),
    benchmark:
        MAIN("results/{exp}/benchmarks/structured/train_find/{hfind}/seed{seed}.tsv")
    conda:
        "../envs/findeval.yaml"
    threads: RUNTIME["threads"]
    resources:
        gpu=0 if RUNTIME["device"] == "cpu" else 1,
    params:
        kind="dense",
        hfind="{hfind}",
        heval="{hfind}",
        ratio=0.0,
        training=MAIN_SX("training"),
        augment=MAIN_CFG("dataset", "augment"),
        device=RUNTIME["device"],
        speed=SPEED,
    script:
        "../scripts/train_structured.py"


rule prune_structured:
    input:
        trained=f"{SDIR}/find/{{hfind}}/seed{{seed}}/dense/trained.pt",
        data=MAIN("results/{exp}/dataset.npz"),
    output:
        pruned=f"{SDIR}/find/{{hfind}}/seed{{seed}}/ratio{{ratio}}/pruned.pt",
        channels=f"{SDIR}/find/{{hfind}}/seed{{seed}}/ratio{{ratio}}/channels.json",
    log:
        MAIN("results/{exp}/logs/structured/prune/{hfind}/seed{seed}/ratio{ratio}.log"),
    conda:
        "../envs/findeval.yaml"
    script:
        "../scripts/prune_structured.py"


rule finetune_structured:
    input:
        start=f"{SDIR}/find/{{hfind}}/seed{{seed}}/ratio{{ratio}}/pruned.pt",
        data=MAIN("results/{exp}/dataset.npz"),
    output:
        metrics=f"{SDIR}/finetune/{{hfind}}/{{heval}}/seed{{seed}}/ratio{{ratio}}/metrics.json",
    log:
        MAIN("results/{exp}/logs/structured/finetune/{hfind}/{heval}/seed{seed}/ratio{ratio}.log"),
    benchmark:
        MAIN(
            "results/{exp}/benchmarks/structured/finetune/{hfind}/{heval}/seed{seed}/ratio{ratio}.tsv"
        )
    conda:
        "../envs/findeval.yaml"
    threads: RUNTIME["threads"]
    resources:
        gpu=0 if RUNTIME["device"] == "cpu" else 1,
    params:
        kind="finetune",
        hfind="{hfind}",
        heval="{heval}",
        ratio=lambda w: float(w.ratio),
        training=MAIN_SX("training"),
        augment=MAIN_CFG("dataset", "augment"),
        device=RUNTIME["device"],
        speed=SPEED,
    script:
        "../scripts/train_structured.py"


# Scratch-E: E epochs; Scratch-B: floor(E * FLOPs_dense / FLOPs_pruned) epochs, milestones scaled alike
# (findeval.structured.scratch_b_training). pruned.pt gives the architecture only: new random init.
for _scratch in ("scratch_e", "scratch_b"):

    rule:
        name:
            _scratch
        input:
            start=f"{SDIR}/find/{{hfind}}/seed{{seed}}/ratio{{ratio}}/pruned.pt",
            data=MAIN("results/{exp}/dataset.npz"),
        output:
            metrics=f"{SDIR}/{_scratch}/{{hfind}}/{{heval}}/seed{{seed}}/ratio{{ratio}}/metrics.json",
        log:
            MAIN(
                f"results/{{exp}}/logs/structured/{_scratch}/{{hfind}}/{{heval}}/seed{{seed}}/ratio{{ratio}}.log"
            ),
        benchmark:
            MAIN(
                f"results/{{exp}}/benchmarks/structured/{_scratch}/{{hfind}}/{{heval}}/seed{{seed}}/ratio{{ratio}}.tsv"
            )
        conda:
            "../envs/findeval.yaml"
        threads: RUNTIME["threads"]
        resources:
            gpu=0 if RUNTIME["device"] == "cpu" else 1,
        params:
            kind=_scratch,
            hfind="{hfind}",
            heval="{heval}",
            ratio=lambda w: float(w.ratio),
            training=MAIN_SX("training"),
            augment=MAIN_CFG("dataset", "augment"),
            device=RUNTIME["device"],
            speed=SPEED,
        script:
            "../scripts/train_structured.py"


rule structured_speed:
    input:
        unpack(lambda w: splan.speed_inputs(config)),
        data=MAIN("results/{exp}/dataset.npz"),
    output:
        speed=f"{SDIR}/speed.csv",
    log:
        MAIN("results/{exp}/logs/structured/speed.log"),
    conda:
        "../envs/findeval.yaml"
    threads: lambda w: SCFG["speed"]["threads"]
    params:
        speed=MAIN_SX("speed"),
    script:
        "../scripts/speed_structured.py"


rule aggregate_structured:
    input:
        metrics=at_dag_time(splan.all_inputs),
    output:
        summary="results/{exp}/structured/summary.csv",
    log:
        "results/{exp}/logs/structured/aggregate.log",
    conda:
        "../envs/findeval.yaml"
    script:
        "../scripts/aggregate_structured.py"


for _fig in splan.FIGURES:

    rule:
        name:
            _fig
        input:
            metrics=at_dag_time(splan.figure_inputs, _fig),
        output:
            pdf=plan.figure_path(config, _fig, "pdf"),
            png=report(plan.figure_path(config, _fig, "png"), **plan.report_args(_fig)),
        log:
            f"results/{EXP}/logs/figures/{_fig}.log",
        localrule: True
        conda:
            "../envs/findeval.yaml"
        params:
            params=splan.figure_params(config, _fig),
            style=config["figures"]["style"],
        script:
            "../scripts/figure_structured.py"
