"""The statistics of the claims table, pure Python at import (no numpy, scipy or pandas; :func:`verdicts_batch`
imports numpy when called): Student's t distribution, the paired t interval, the exact sign-flip test, the one
verdict rule, and Holm's adjustment.

The verdict rule (one alpha, every route)
-----------------------------------------
``d_1..d_n`` are the per-seed differences, oriented so that ``d > 0`` is the paper's direction.

- ``ALPHA`` = 2.5% one-sided; the interval is the two-sided ``1 - 2 ALPHA`` = 95% Student-t interval
  ``mean -+ t_{1-ALPHA, n-1} sd / sqrt(n)``. With zero variance it is the point ``[mean, mean]`` (the limit of the
  interval as the spread goes to 0: no special case, no discontinuity).
- ``p_signflip``: the exact one-sided sign-flip p-value (share of the ``2^n`` sign patterns whose sum is at least
  the observed one). Its smallest value is ``2^-n``.
- ``p``: the row's one-sided p-value in the paper's direction, ``max(p_t, p_signflip)``: ``p <= ALPHA`` exactly
  when both tests reject (the intersection of two valid tests is valid). Holm's adjustment is applied to it.
- ``reproduced``: ``n >= MIN_SEEDS``, the interval lies above 0 **and** ``p_signflip <= ALPHA``;
  ``not reproduced``: the mirror image (interval below 0 and the sign-flip p of ``-d`` ``<= ALPHA``);
  ``inconclusive``: otherwise (never to be read as "does not reproduce");
  ``underpowered``: fewer than ``MIN_SEEDS`` common seeds; the row still shows the effect, the interval (from 2
  seeds) and "k of n seeds in the paper's direction".
- ``MIN_SEEDS`` = ``max(5, ceil(log2(1 / ALPHA)))`` = 6: at 5 seeds the exact sign-flip p is at least
  ``2^-5`` = 3.1% > 2.5%, so no row could ever be ``reproduced``; 6 seeds (``2^-6`` = 1.6%) is the fewest at
  which the rule can reach ALPHA.
- ``magnitude_excluded`` (where the paper gives a magnitude ``m``): the same rule applied to ``d - m``: the
  interval's upper end below ``m`` and the sign-flip p of ``m - d`` ``<= ALPHA``, at ``>= MIN_SEEDS`` seeds.

Under no effect, both tests are valid for any symmetric distribution of ``d`` (the sign-flip test exactly,
whatever the distribution; the t test at normal ``d``); requiring both keeps the rule valid where one seed's
collapsed run drags the mean (``tests/test_claims_stats.py`` measures both).
"""

from __future__ import annotations

import functools
import itertools
import math
import random
from typing import Callable

#: One-sided level of every test of the claims table; the interval is two-sided 1 - 2 ALPHA.
ALPHA = 0.025
CI = 1 - 2 * ALPHA
#: Fewest common seeds for the t interval (df = n - 1 >= 1).
MIN_SEEDS_T = 2
#: Fewest common seeds for a verdict: 5 at least, and enough for the exact sign-flip p (>= 2^-n) to reach ALPHA.
MIN_SEEDS = max(5, math.ceil(math.log2(1 / ALPHA) - 1e-12))
#: Exact sign-flip enumeration up to this many seeds; beyond, this many deterministic random patterns.
SIGNFLIP_EXACT_MAX = 16
SIGNFLIP_DRAWS = 2 ** 16
#: Per-seed differences are rounded to this many decimals (far below a meaningful pp or decade of LR), so that
#: float noise cannot turn an exact tie into a sign.
DIGITS = 10


class NotRun(Exception):
    """A claim whose inputs this run does not have: the message is the reason."""


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the regularised incomplete beta function (modified Lentz)."""
    tiny, qab, qap, qam = 1e-300, a + b, a + 1, a - 1
    c, d = 1.0, 1 - qab * x / qap
    d = 1 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 400):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1 + aa * d
        d = 1 / (d if abs(d) > tiny else tiny)
        c = 1 + aa / c if abs(1 + aa / c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1 + aa * d
        d = 1 / (d if abs(d) > tiny else tiny)
        c = 1 + aa / c if abs(1 + aa / c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-15:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    lbeta = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log(1 - x)
    if x < (a + 1) / (a + b + 2):
        return math.exp(lbeta) * _betacf(a, b, x) / a
    return 1 - math.exp(lbeta) * _betacf(b, a, 1 - x) / b


def t_cdf(x: float, df: float) -> float:
    """Student-t distribution function."""
    tail = 0.5 * _betainc(df / 2, 0.5, df / (df + x * x))
    return 1 - tail if x > 0 else tail


@functools.lru_cache(maxsize=256)
def t_ppf(q: float, df: float) -> float:
    """Student-t quantile (bisection on :func:`t_cdf`; 1e-12 absolute)."""
    if not 0 < q < 1:
        raise ValueError(f"quantile level {q} is not in (0, 1)")
    if q < 0.5:
        return -t_ppf(1 - q, df)
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < q:
        hi *= 2
    for _ in range(200):
        mid = (lo + hi) / 2
        if t_cdf(mid, df) < q:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12:
            break
    return (lo + hi) / 2


def sign_flip_p(diffs) -> float:
    """One-sided (paper's direction) p-value of the sign-flip test: the share of sign patterns whose mean
    difference is at least the observed one (exact up to SIGNFLIP_EXACT_MAX seeds)."""
    d = [float(x) for x in diffs]
    n = len(d)
    if not n:
        return math.nan
    obs = sum(d) - 1e-9 * max(1.0, sum(abs(x) for x in d))  # ">=" with room for float error
    if n <= SIGNFLIP_EXACT_MAX:
        hits = sum(1 for signs in itertools.product((1, -1), repeat=n)
                   if sum(s * x for s, x in zip(signs, d)) >= obs)
        return hits / 2 ** n
    rng = random.Random(0)
    hits = sum(1 for _ in range(SIGNFLIP_DRAWS) if sum(x if rng.random() < 0.5 else -x for x in d) >= obs)
    return (hits + 1) / (SIGNFLIP_DRAWS + 1)


def alpha_of(ci: float | None) -> float:
    """The one-sided level of a two-sided interval level ``ci`` (0.95 -> 0.025)."""
    if ci is None:
        return ALPHA
    ci = float(ci)
    if not 0 < ci < 1:
        raise ValueError(f"figures.claims.ci = {ci} is not in (0, 1)")
    return round((1 - ci) / 2, 12)


def min_seeds(alpha: float = ALPHA) -> int:
    """Fewest seeds for a verdict at one-sided ``alpha``: 5, or more where 2^-n > alpha."""
    return max(5, math.ceil(math.log2(1 / alpha) - 1e-12))


def t_sf_onesided(mean: float, sd: float, n: int) -> float:
    """One-sided p-value of the t test of ``mean > 0`` (zero ``sd``: 0, 1 or 0.5 by the sign, the limit)."""
    if n < MIN_SEEDS_T:
        return math.nan
    if sd == 0:
        return 0.0 if mean > 0 else (1.0 if mean < 0 else 0.5)
    return 1 - t_cdf(mean / (sd / math.sqrt(n)), n - 1)


def paired_test(diffs, ci: float = CI) -> dict:
    """Effect, t interval, one-sided p-values, seeds in the paper's direction and the verdict of per-seed
    differences (positive: the paper's direction); the rule of the module docstring."""
    alpha = alpha_of(ci)
    need = min_seeds(alpha)
    d = [round(float(x), DIGITS) for x in diffs]
    n = len(d)
    out = {"effect": math.nan, "ci_low": math.nan, "ci_high": math.nan, "p_signflip": math.nan, "p_t": math.nan,
           "p": math.nan, "n_seeds": n, "k_direction": sum(x > 0 for x in d), "verdict": "underpowered",
           "note": "", "alpha": alpha, "min_seeds": need}
    if n == 0:
        out["note"] = "no seed"
        return out
    mean = sum(d) / n
    out.update(effect=round(mean, DIGITS), p_signflip=sign_flip_p(d))
    dirn = f"{out['k_direction']} of {n} seeds in the paper's direction"
    if n < MIN_SEEDS_T:
        out["note"] = f"{dirn}; {n} seed: no t interval (a verdict needs {need} seeds)"
        return out
    sd = math.sqrt(sum((x - mean) ** 2 for x in d) / (n - 1))
    half = t_ppf(1 - alpha, n - 1) * sd / math.sqrt(n)
    lo, hi = round(mean - half, DIGITS), round(mean + half, DIGITS)
    p_t = t_sf_onesided(mean, sd, n)
    out.update(ci_low=lo, ci_high=hi, p_t=p_t, p=max(p_t, out["p_signflip"]))
    if n < need:
        out["note"] = f"{dirn}; underpowered: a verdict needs {need} seeds (one-sided {alpha:.1%})"
        return out
    out["verdict"] = verdict(lo, hi, out["p_signflip"], sign_flip_p([-x for x in d]), alpha)
    out["note"] = dirn
    return out


def magnitude_excluded(diffs, magnitude: float, ci: float = CI) -> bool:
    """The verdict rule on ``d - magnitude``: the paper's magnitude is excluded (the effect is smaller)."""
    res = paired_test([float(x) - float(magnitude) for x in diffs], ci)
    return res["verdict"] == "not reproduced"


def verdict(ci_low: float, ci_high: float, p_up: float = 0.0, p_down: float = 0.0, alpha: float = ALPHA) -> str:
    """``reproduced`` (``ci_low > 0`` and the sign-flip ``p_up <= alpha``) / ``not reproduced`` (``ci_high < 0``
    and ``p_down <= alpha``) / ``inconclusive``; a missing interval (NaN) is ``underpowered``. The seed minimum
    is :func:`paired_test`'s."""
    if ci_low is None or ci_high is None or math.isnan(ci_low) or math.isnan(ci_high):
        return "underpowered"
    if ci_low > 0 and p_up <= alpha:
        return "reproduced"
    if ci_high < 0 and p_down <= alpha:
        return "not reproduced"
    return "inconclusive"


def holm(pvalues) -> list:
    """Holm's step-down adjustment of ``pvalues`` (NaN entries are not tested and stay NaN)."""
    p = [float(x) for x in pvalues]
    idx = sorted((i for i, x in enumerate(p) if not math.isnan(x)), key=lambda i: p[i])
    m, out, running = len(idx), [math.nan] * len(p), 0.0
    for rank, i in enumerate(idx):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


def min_seeds_holm(m: int, alpha: float = ALPHA) -> int:
    """Fewest seeds at which Holm over ``m`` rows can pass any row: the exact sign-flip p (>= 2^-n) is part of
    every row's ``p``, and Holm's first step needs ``p <= alpha / m``."""
    return max(min_seeds(alpha), math.ceil(math.log2(max(1, m) / alpha) - 1e-12))


def expected_false_reproduced(n_tested: int, alpha: float = ALPHA) -> float:
    """Expected number of false ``reproduced`` rows of a table of ``n_tested`` rows under no effect (at most)."""
    return n_tested * alpha


def verdicts_batch(diffs, alpha: float = ALPHA, route: str = "rule"):
    """Vectorised verdicts of many draws (rows of the 2-D array ``diffs``, one column per seed; numpy), for the
    calibration tests: ``route`` "t" (interval only), "signflip" (exact sign-flip p only) or "rule" (both, with
    the seed minimum: what :func:`paired_test` does). Returns an array of +1 (reproduced), -1 (not reproduced),
    0 (inconclusive or underpowered)."""
    import numpy as np

    d = np.round(np.asarray(diffs, dtype=float), DIGITS)
    draws, n = d.shape
    mean = d.mean(axis=1)
    out = np.zeros(draws, dtype=int)
    if route == "rule" and n < min_seeds(alpha):
        return out
    up = down = np.ones(draws, dtype=bool)
    if route in ("t", "rule"):
        if n < MIN_SEEDS_T:
            return out
        half = t_ppf(1 - alpha, n - 1) * d.std(axis=1, ddof=1) / math.sqrt(n)
        lo, hi = np.round(mean - half, DIGITS), np.round(mean + half, DIGITS)
        up, down = lo > 0, hi < 0
    if route in ("signflip", "rule"):
        if n > SIGNFLIP_EXACT_MAX:
            raise ValueError(f"verdicts_batch: exact sign flips up to {SIGNFLIP_EXACT_MAX} seeds")
        signs = np.array(list(itertools.product((1, -1), repeat=n)), dtype=float)
        sums = d @ signs.T
        obs = d.sum(axis=1, keepdims=True)
        tol = 1e-9 * np.maximum(1.0, np.abs(d).sum(axis=1, keepdims=True))
        p_up = (sums >= obs - tol).mean(axis=1)
        p_down = (-sums >= -obs - tol).mean(axis=1)
        up, down = up & (p_up <= alpha), down & (p_down <= alpha)
    out[up] = 1
    out[down & ~up] = -1
    return out


def common_seeds(per_seed: dict) -> list:
    """The seeds every condition of ``{condition: {seed: value}}`` has, sorted."""
    if not per_seed:
        raise NotRun("no conditions")
    seeds = sorted(set.intersection(*(set(v) for v in per_seed.values())))
    if not seeds:
        raise NotRun("the conditions share no seed")
    return seeds


def per_seed_effects(per_seed: dict, statistic: Callable[[dict], float]) -> tuple[list, list]:
    """(common seeds, the statistic on each seed's values ``{condition: value}``)."""
    seeds = common_seeds(per_seed)
    return seeds, [float(statistic({k: v[s] for k, v in per_seed.items()})) for s in seeds]


def condition_means(per_seed: dict, seeds) -> dict:
    return {k: sum(float(v[s]) for s in seeds) / len(seeds) for k, v in per_seed.items()}
