"""Split exact totals into random parts.

The headline figures are counts and sums the report states exactly, so random
data is shaped around them: parts vary, the total never does.
"""

from __future__ import annotations

import random


def spread(rng: random.Random, total: int, n: int, minimum: int = 0) -> list[int]:
    """Return ``n`` non-negative integers, each ≥ ``minimum``, summing to ``total``."""
    rest = total - minimum * n
    if n <= 0 or rest < 0:
        raise ValueError(f"cannot spread {total} over {n} parts with minimum {minimum}")
    parts = [minimum] * n
    weights = [rng.uniform(0.3, 1.7) for _ in range(n)]
    for i in rng.choices(range(n), weights=weights, k=rest):
        parts[i] += 1
    return parts


def split_cents(rng: random.Random, total_cents: int, weights: list[int]) -> list[int]:
    """Split an amount in cents proportionally to positive integer ``weights``, exactly.

    Rounding remainders go to randomly chosen parts, so the sum is always exact and
    every part stays ≥ 1 cent when the total allows it.
    """
    if not weights or min(weights) <= 0:
        raise ValueError("weights must be positive")
    wsum = sum(weights)
    parts = [total_cents * w // wsum for w in weights]
    for i in rng.sample(range(len(parts)), total_cents - sum(parts)):
        parts[i] += 1
    if min(parts) <= 0:
        raise ValueError("total too small for the number of parts")
    return parts
