rule prepare_data:
    output:
        data="results/{exp}/dataset.npz",
    log:
        "results/{exp}/logs/prepare_data.log",
    conda:
        "../envs/findeval.yaml"
    params:
        dataset=lambda w: {
            "name": config["dataset"]["name"],
            "root": config["dataset"]["root"],
            "test_fraction": config["dataset"]["test_fraction"],
            "split_seed": config["dataset"]["split_seed"],
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
        model=config["model"],
        dataset=config["dataset"]["name"],
    script:
        "../scripts/init.py"
