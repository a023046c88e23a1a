"""The statistics of the claims table, pure Python (no numpy, scipy or pandas): Student's t distribution, the
paired t-test and its confidence interval, the sign-flip permutation test, and the verdict rule."""

from __future__ import annotations

import itertools
import math
import random
from typing import Callable

#: Two-sided level of the t interval, and the level the verdicts' tests can be said to reach.
CI = 0.95
ALPHA = 0.05
#: Fewest common seeds for the t interval (df = n - 1 >= 1).
MIN_SEEDS_T = 2
#: Fewest seeds for the one-sided sign-flip test to be able to reach ALPHA (2^-n <= 0.05).
MIN_SEEDS_SIGNFLIP = 5
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


def paired_test(diffs, ci: float = CI) -> dict:
    """Effect, t interval, sign-flip p-value and verdict of per-seed differences (positive: the paper's
    direction); the rules of the module docstring."""
    d = [round(float(x), DIGITS) for x in diffs]
    n = len(d)
    out = {"effect": math.nan, "ci_low": math.nan, "ci_high": math.nan, "p_signflip": math.nan, "n_seeds": n,
           "verdict": "underpowered", "note": ""}
    if n == 0:
        out["note"] = "no seed"
        return out
    mean = sum(d) / n
    out.update(effect=round(mean, DIGITS), p_signflip=sign_flip_p(d))
    if n < MIN_SEEDS_T:
        out["note"] = f"{n} seed: no t interval (underpowered below {MIN_SEEDS_T} seeds)"
        return out
    var = sum((x - mean) ** 2 for x in d) / (n - 1)
    if len(set(d)) == 1:  # zero variance: the t interval is a point; the sign-flip test decides
        out.update(ci_low=d[0], ci_high=d[0])
        if d[0] == 0:
            out.update(verdict="inconclusive", note="every per-seed difference is 0")
        elif n >= MIN_SEEDS_SIGNFLIP:
            out.update(verdict="reproduced" if d[0] > 0 else "not reproduced",
                       note=f"zero variance: sign-flip test, p = 2^-{n}")
        else:
            out["note"] = (f"zero variance over {n} seeds: the sign-flip test needs {MIN_SEEDS_SIGNFLIP} to reach "
                           f"{ALPHA:.0%}")
        return out
    half = t_ppf((1 + float(ci)) / 2, n - 1) * math.sqrt(var / n)
    lo, hi = round(mean - half, DIGITS), round(mean + half, DIGITS)
    out.update(ci_low=lo, ci_high=hi, verdict=verdict(lo, hi))
    return out


def verdict(ci_low: float, ci_high: float) -> str:
    """``reproduced`` (``ci_low > 0``) / ``not reproduced`` (``ci_high < 0``) / ``inconclusive`` (the interval
    contains 0); a missing interval (NaN) is ``underpowered``."""
    if ci_low is None or ci_high is None or math.isnan(ci_low) or math.isnan(ci_high):
        return "underpowered"
    if ci_low > 0:
        return "reproduced"
    if ci_high < 0:
        return "not reproduced"
    return "inconclusive"


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
