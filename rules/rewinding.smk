# Variants of the lottery ticket procedure (Section 3.3, Fig. 4) and the instability analysis (Figs. A13,
# A14). One job per variant find chain (every level) and per evaluation sweep, as rules/chains.smk does for
# Algorithm A1, in either runtime.granularity. Semantics, paths and figure inputs: findeval.rewinding and
# findeval.instability (README "Rewinding variants and instability").
#   late:      late_theta (theta_k) -> late_chain (prune, rewind to theta_k, train epochs k+1..E)
#   warmup:    warmup_chain (H_find with linear LR warmup, from theta_0, every level incl. the dense run)
#   lr_rewind: lr_rewind_chain (no weight rewinding: trained_{L-1} * M_L, the whole schedule)
#   variant_eval_sweep: a chain's masks trained with H_eval from the chain's tickets
#   instability (copy B + interpolation), late_preserve_lpr_masks, late_random_eval_sweep -> figA13, figA14

from findeval import instability, rewinding

RW = rewinding.settings(config)
RW_LEVELS = RW["levels"]
RW_FIGURE_FILES = rewinding.figure_files(config) + instability.figure_files(config)
# the main experiment's training schedule and augmentation (MAIN_CFG, rules/common.smk): these rules are its own
RW_TRAIN = dict(
    training=MAIN_CFG("training"),
    augment=MAIN_CFG("dataset", "augment"),
    device=RUNTIME["device"],
    speed=SPEED,
)
# runtime.group > 0: the sweep jobs train their levels as grouped networks (findeval.grouped). A params value
# only then, so that group 0 leaves the sweeps' params (and Snakemake's params re-run trigger) as they were;
# a dict, so that its repr is unique among the job's params values (Snakemake compares them as a set).
SWEEP_GROUP = {"grouped": {"group": RUNTIME["group"]}} if RUNTIME["group"] else {}


wildcard_constraints:
    late_k=r"\d+",
    warm=r"\d+",
    variant=r"late/k\d+|warmup/w\d+|lr_rewind",
    rkind=r"preserve_lpr|preserve_mask",


rule late_theta:
    input:
        init=MAIN("results/{exp}/seed{seed}/init.pt"),
        data=MAIN("results/{exp}/dataset.npz"),
    output:
        theta=MAIN("results/{exp}/late/k{late_k}/{hfind}/seed{seed}/theta_k.pt"),
    log:
        MAIN("results/{exp}/logs/late_theta/k{late_k}/{hfind}/seed{seed}.log"),
    conda:
        "../envs/findeval.yaml"
    threads: RUNTIME["threads"]
    resources:
        gpu=0 if RUNTIME["device"] == "cpu" else 1,
    params:
        **RW_TRAIN,
    script:
        "../scripts/rewinding.py"


rule late_chain:
    input:
        unpack(MAIN_INPUT(rewinding.chain_input, "late")),
    output:
        **rewinding.per_level(
            MAIN("results/{exp}/late/k{late_k}/{hfind}/seed{seed}"),
            1,
            RW_LEVELS,
            mask="mask.h5",
            ticket="ticket.pt",
            trained="trained.pt",
            metrics="metrics.json",
        ),
    log:
        MAIN("results/{exp}/logs/late_chain/k{late_k}/{hfind}/seed{seed}.log"),
    benchmark:
        MAIN("results/{exp}/benchmarks/late_chain/k{late_k}/{hfind}/seed{seed}.tsv")
    conda:
        "../envs/findeval.yaml"
    threads: RUNTIME["threads"]
    resources:
        gpu=0 if RUNTIME["device"] == "cpu" else 1,
    params:
        **RW_TRAIN,
        fraction=config["pruning"]["fraction"],
    script:
        "../scripts/rewinding.py"


rule warmup_chain:
    input:
        unpack(MAIN_INPUT(rewinding.chain_input, "warmup")),
    output:
        **rewinding.per_level(
            MAIN("results/{exp}/warmup/w{warm}/{hfind}/seed{seed}"),
            0,
            RW_LEVELS,
            trained="trained.pt",
            metrics="metrics.json",
        ),
        **rewinding.per_level(
            MAIN("results/{exp}/warmup/w{warm}/{hfind}/seed{seed}"),
            1,
            RW_LEVELS,
            mask="mask.h5",
            ticket="ticket.pt",
        ),
    log:
        MAIN("results/{exp}/logs/warmup_chain/w{warm}/{hfind}/seed{seed}.log"),
    benchmark:
        MAIN("results/{exp}/benchmarks/warmup_chain/w{warm}/{hfind}/seed{seed}.tsv")
    conda:
        "../envs/findeval.yaml"
    threads: RUNTIME["threads"]
    resources:
        gpu=0 if RUNTIME["device"] == "cpu" else 1,
    params:
        **RW_TRAIN,
        fraction=config["pruning"]["fraction"],
    script:
        "../scripts/rewinding.py"


rule lr_rewind_chain:
    input:
        unpack(MAIN_INPUT(rewinding.chain_input, "lr_rewind")),
    output:
        **rewinding.per_level(
            MAIN("results/{exp}/lr_rewind/{hfind}/seed{seed}"),
            1,
            RW_LEVELS,
            mask="mask.h5",
            ticket="ticket.pt",
            trained="trained.pt",
            metrics="metrics.json",
        ),
    log:
        MAIN("results/{exp}/logs/lr_rewind_chain/{hfind}/seed{seed}.log"),
    benchmark:
        MAIN("results/{exp}/benchmarks/lr_rewind_chain/{hfind}/seed{seed}.tsv")
    conda:
        "../envs/findeval.yaml"
    threads: RUNTIME["threads"]
    resources:
        gpu=0 if RUNTIME["device"] == "cpu" else 1,
    params:
        **RW_TRAIN,
        fraction=config["pruning"]["fraction"],
    script:
        "../scripts/rewinding.py"


rule variant_eval_sweep:
    input:
        unpack(MAIN_INPUT(rewinding.eval_sweep_input, RW_LEVELS)),
    output:
        **rewinding.per_level(
            MAIN("results/{exp}/{variant}/eval/{hfind}/{heval}/seed{seed}"),
            1,
            RW_LEVELS,
            metrics="metrics.json",
        ),
    log:
        MAIN("results/{exp}/logs/variant_eval_sweep/{variant}/{hfind}/{heval}/seed{seed}.log"),
    benchmark:
        MAIN("results/{exp}/benchmarks/variant_eval_sweep/{variant}/{hfind}/{heval}/seed{seed}.tsv")
    conda:
        "../envs/findeval.yaml"
    threads: RUNTIME["threads"]
    resources:
        gpu=0 if RUNTIME["device"] == "cpu" else 1,
    params:
        **RW_TRAIN,
        **SWEEP_GROUP,
        warmup_in_eval=RW["warmup_in_eval"],
    script:
        "../scripts/rewinding.py"


rule instability:
    input:
        unpack(MAIN_INPUT(instability.instability_input)),
    output:
        json=MAIN(
            "results/{exp}/instability/k{late_k}/{hfind}/seed{seed}/level{level}/interpolation.json"
        ),
    log:
        MAIN("results/{exp}/logs/instability/k{late_k}/{hfind}/seed{seed}/level{level}.log"),
    benchmark:
        MAIN("results/{exp}/benchmarks/instability/k{late_k}/{hfind}/seed{seed}/level{level}.tsv")
    conda:
        "../envs/findeval.yaml"
    threads: RUNTIME["threads"]
    resources:
        gpu=0 if RUNTIME["device"] == "cpu" else 1,
    params:
        **RW_TRAIN,
        alphas=instability.settings(config)["alphas"],
    script:
        "../scripts/instability.py"


rule late_preserve_lpr_masks:
    input:
        **rewinding.per_level(
            MAIN("results/{exp}/late/k{late_k}/{hfind}/seed{seed}"),
            1,
            RW_LEVELS,
            lottery="mask.h5",
        ),
    output:
        **rewinding.per_level(
            MAIN("results/{exp}/late/k{late_k}/random/preserve_lpr/{hfind}/seed{seed}"),
            1,
            RW_LEVELS,
            mask="mask.h5",
        ),
    log:
        MAIN("results/{exp}/logs/late_preserve_lpr_masks/k{late_k}/{hfind}/seed{seed}.log"),
    localrule: True
    conda:
        "../envs/findeval.yaml"
    script:
        "../scripts/random_masks.py"


rule late_random_eval_sweep:
    input:
        unpack(MAIN_INPUT(instability.random_eval_input, RW_LEVELS)),
    output:
        **rewinding.per_level(
            MAIN("results/{exp}/late/k{late_k}/random_eval/{rkind}/{hfind}/{heval}/seed{seed}"),
            1,
            RW_LEVELS,
            metrics="metrics.json",
        ),
    log:
        MAIN(
            "results/{exp}/logs/late_random_eval_sweep/k{late_k}/{rkind}/{hfind}/{heval}/seed{seed}.log"
        ),
    benchmark:
        MAIN(
            "results/{exp}/benchmarks/late_random_eval_sweep/k{late_k}/{rkind}/{hfind}/{heval}/seed{seed}.tsv"
        )
    conda:
        "../envs/findeval.yaml"
    threads: RUNTIME["threads"]
    resources:
        gpu=0 if RUNTIME["device"] == "cpu" else 1,
    params:
        **RW_TRAIN,
        **SWEEP_GROUP,
    script:
        "../scripts/instability.py"


for _fig, _mod in (("fig4", rewinding), ("figA13", instability), ("figA14", instability)):

    rule:
        name:
            _fig
        input:
            files=at_dag_time(_mod.figure_inputs, _fig),
        output:
            pdf=plan.figure_path(config, _fig, "pdf"),
            png=report(plan.figure_path(config, _fig, "png"), **plan.report_args(_fig)),
            table=_mod.data_path(config, _fig),
        log:
            f"results/{EXP}/logs/figures/{_fig}.log",
        localrule: True
        conda:
            "../envs/findeval.yaml"
        params:
            figure=_mod.figure_params(config, _fig),
            style=config["figures"]["style"],
        script:
            "../scripts/rewinding_figure.py"
