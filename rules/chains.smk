# runtime.granularity "chain" (the default): one job per find chain (all levels of Algorithm A1 for one
# H_find and replicate) and one per evaluation sweep (every level of one mask source with one H_eval).
# The files are those of the per-level rules (rules/find.smk, baselines.smk, eval.smk, lpr_levels.smk),
# written by the same functions in the same order: only the number of process starts changes.
# See README "Job granularity".

# Their input functions (per_level, eval_sweep_input, ...) are in rules/common.smk.

# runtime.group > 0: the sweep jobs train their levels as grouped networks (findeval.grouped). A params value
# only then, so that group 0 leaves the sweeps' params (and Snakemake's params re-run trigger) as they were;
# a dict, so that its repr is unique among the job's params values (Snakemake compares them as a set).
SWEEP_GROUP = {"grouped": {"group": RUNTIME["group"]}} if RUNTIME["group"] else {}


rule find_chain:
    input:
        data="results/{exp}/dataset.npz",
        init="results/{exp}/seed{seed}/init.pt",
    output:
        **per_level(
            "results/{exp}/find/{hfind}/seed{seed}",
            0,
            trained="trained.pt",
            metrics="metrics.json",
        ),
        **per_level("results/{exp}/find/{hfind}/seed{seed}", 1, mask="mask.h5", ticket="ticket.pt"),
    log:
        "results/{exp}/logs/find_chain/{hfind}/seed{seed}.log",
    benchmark:
        "results/{exp}/benchmarks/find_chain/{hfind}/seed{seed}.tsv"
    conda:
        "../envs/findeval.yaml"
    threads: RUNTIME["threads"]
    resources:
        gpu=0 if RUNTIME["device"] == "cpu" else 1,
    params:
        hfind="{hfind}",
        fraction=config["pruning"]["fraction"],
        training=XCFG("training"),
        augment=XCFG("dataset", "augment"),
        device=RUNTIME["device"],
        speed=SPEED,
    script:
        "../scripts/find_chain.py"


rule global_random_masks:
    input:
        architecture="results/{exp}/seed{seed}/architecture.json",
    output:
        **per_level("results/{exp}/random/global/seed{seed}", 1, mask="mask.h5"),
    log:
        "results/{exp}/logs/global_random_masks/seed{seed}.log",
    localrule: True
    conda:
        "../envs/findeval.yaml"
    params:
        fraction=config["pruning"]["fraction"],
    script:
        "../scripts/random_masks.py"


rule preserve_lpr_masks:
    input:
        **per_level("results/{exp}/find/{hfind}/seed{seed}", 1, lottery="mask.h5"),
    output:
        **per_level("results/{exp}/random/preserve_lpr/{hfind}/seed{seed}", 1, mask="mask.h5"),
    log:
        "results/{exp}/logs/preserve_lpr_masks/{hfind}/seed{seed}.log",
    localrule: True
    conda:
        "../envs/findeval.yaml"
    script:
        "../scripts/random_masks.py"


rule eval_sweep:
    input:
        unpack(eval_sweep_input),
    output:
        **per_level("results/{exp}/eval/{source}/{heval}/seed{seed}", 1, metrics="metrics.json"),
    log:
        "results/{exp}/logs/eval_sweep/{source}/{heval}/seed{seed}.log",
    benchmark:
        "results/{exp}/benchmarks/eval_sweep/{source}/{heval}/seed{seed}.tsv"
    conda:
        "../envs/findeval.yaml"
    threads: RUNTIME["threads"]
    resources:
        gpu=0 if RUNTIME["device"] == "cpu" else 1,
    params:
        **SWEEP_GROUP,
        kind=source_kind,
        hfind=source_hfind,
        heval="{heval}",
        training=XCFG("training"),
        augment=XCFG("dataset", "augment"),
        device=RUNTIME["device"],
        speed=SPEED,
    script:
        "../scripts/eval_sweep.py"


rule lpr_find_chain:
    input:
        unpack(MAIN_INPUT(lpr_chain_input)),
    output:
        **per_level(
            MAIN("results/{exp}/{chain}/seed{seed}"),
            1,
            mask="mask.h5",
            ticket="ticket.pt",
            trained="trained.pt",
            metrics="metrics.json",
        ),
    log:
        MAIN("results/{exp}/logs/lpr_find_chain/{chain}/seed{seed}.log"),
    benchmark:
        MAIN("results/{exp}/benchmarks/lpr_find_chain/{chain}/seed{seed}.tsv")
    conda:
        "../envs/findeval.yaml"
    threads: RUNTIME["threads"]
    resources:
        gpu=0 if RUNTIME["device"] == "cpu" else 1,
    params:
        spec=lambda w: lpr.chain_spec(w.chain),
        fraction=config["pruning"]["fraction"],
        training=MAIN_CFG("training"),
        augment=MAIN_CFG("dataset", "augment"),
        device=RUNTIME["device"],
        speed=SPEED,
    script:
        "../scripts/lpr_find_chain.py"


rule lpr_eval_sweep:
    input:
        unpack(MAIN_INPUT(lpr_eval_sweep_input)),
    output:
        **per_level(
            MAIN("results/{exp}/eval/{constrained}/{heval}/seed{seed}"), 1, metrics="metrics.json"
        ),
    log:
        MAIN("results/{exp}/logs/lpr_eval_sweep/{constrained}/{heval}/seed{seed}.log"),
    benchmark:
        MAIN("results/{exp}/benchmarks/lpr_eval_sweep/{constrained}/{heval}/seed{seed}.tsv")
    conda:
        "../envs/findeval.yaml"
    threads: RUNTIME["threads"]
    resources:
        gpu=0 if RUNTIME["device"] == "cpu" else 1,
    params:
        **SWEEP_GROUP,
        spec=lambda w: lpr.chain_spec(w.constrained),
        heval="{heval}",
        training=MAIN_CFG("training"),
        augment=MAIN_CFG("dataset", "augment"),
        device=RUNTIME["device"],
        speed=SPEED,
    script:
        "../scripts/lpr_eval_sweep.py"
