rule prepare_data:
    output:
        data="results/{exp}/dataset.npz",
    log:
        "results/{exp}/logs/prepare_data.log",
    conda:
        "../envs/findeval.yaml"
    params:
        dataset=lambda w: {
            k: EXPERIMENTS[w.exp]["dataset"][k]
            for k in ("name", "root", "test_fraction", "split_seed")
        },
    script:
        "../scripts/prepare_data.py"


rule init:
    output:
        init="results/{exp}/seed{seed}/init.pt",
        reinit="results/{exp}/seed{seed}/reinit.pt",
        architecture="results/{exp}/seed{seed}/architecture.json",
    log:
        "results/{exp}/logs/init/seed{seed}.log",
    conda:
        "../envs/findeval.yaml"
    params:
        model=XCFG("model"),
        dataset=XCFG("dataset", "name"),
    script:
        "../scripts/init.py"
