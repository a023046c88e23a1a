"""Calibration of the claims report's verdicts (findeval.claims): simulated null effects (no true difference)
are "reproduced" at most 5% of the time, and an effect of 2 standard deviations of the per-seed difference is
"reproduced" at least 80% of the time at the recommended 5 seeds. Through the report's own verdict function
(paired_test) and, for a few hundred draws, through a claim function on synthetic summary tables. Seeded and
deterministic; a few seconds."""

import random

import pandas as pd
import pytest

from findeval.claims import jobs as claims_jobs, plan as claims, stats as claims_stats

N_SIM = 2000


def _rate(n_seeds: int, shift: float, *, n_sim: int = N_SIM, seed: int = 0) -> float:
    """Share of simulations called "reproduced": two conditions, iid normal accuracies (sd 1) per seed, the
    first ``shift`` * sd(difference) above the second."""
    rng = random.Random(seed)
    sd_diff = 2 ** 0.5
    hits = 0
    for _ in range(n_sim):
        diffs = [rng.gauss(0, 1) - rng.gauss(0, 1) + shift * sd_diff for _ in range(n_seeds)]
        hits += claims_stats.paired_test(diffs)["verdict"] == "reproduced"
    return hits / n_sim


@pytest.mark.parametrize("n_seeds", [2, 3, 5])
def test_null_effects_are_rarely_reproduced(n_seeds):
    rate = _rate(n_seeds, 0.0, seed=n_seeds)
    print(f"null, {n_seeds} seeds: false 'reproduced' rate {rate:.2%}")
    assert rate <= 0.05


def test_an_effect_of_two_sd_is_detected_at_five_seeds():
    rate = _rate(claims.RECOMMENDED_SEEDS, 2.0, seed=11)
    print(f"effect 2 sd of the per-seed difference, {claims.RECOMMENDED_SEEDS} seeds: 'reproduced' {rate:.2%}")
    assert rate >= 0.80
    assert _rate(3, 2.0, seed=12) < rate  # fewer seeds, less power


def test_null_effects_through_a_claim_function():
    """C3-LR on synthetic summaries where the declared decoupled and coupled pairs have the same distribution."""
    params = {"level": 1, "sparsity": 0.5, "fraction": 0.5, "declared": {"lr": {"find": 0.05, "eval": 0.5,
              "hfind": "lr0.05", "heval": "lr0.5"}}, "regime_warnings": []}
    rng = random.Random(5)
    for n_seeds, n_sim in ((3, 300), (5, 300)):
        hits = 0
        for _ in range(n_sim):
            rows = [{"kind": "lottery", "level": 1, "seed": s, "hfind": hf, "heval": "lr0.5",
                     "test_accuracy": 0.7 + 0.02 * rng.gauss(0, 1)}
                    for s in range(n_seeds) for hf in ("lr0.05", "lr0.5")]
            r = claims_jobs.evaluate("C3-LR", {"summary": pd.DataFrame(rows)}, params)
            assert r["n_seeds"] == n_seeds
            hits += r["verdict"] == "reproduced"
        print(f"null through C3-LR, {n_seeds} seeds: false 'reproduced' {hits / n_sim:.2%}")
        assert hits / n_sim <= 0.05


def test_sign_flip_p_is_calibrated_under_the_null():
    """The one-sided exact sign-flip p-value is <= 5% in at most 5% of null draws (5 seeds: only p = 1/32)."""
    rng = random.Random(3)
    hits = sum(claims_stats.sign_flip_p([rng.gauss(0, 1) for _ in range(5)]) <= 0.05 for _ in range(N_SIM))
    print(f"sign-flip p <= 5% under the null, 5 seeds: {hits / N_SIM:.2%}")
    assert hits / N_SIM <= 0.05
