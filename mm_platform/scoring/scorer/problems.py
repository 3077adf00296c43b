"""The two sample problems. Both ask a solution for a number derived from the seed; they differ in how
an answer is scored: `target` is a MAXIMIZE challenge (1000 is perfect), `distance` a MINIMIZE one
(0 is perfect)."""

from __future__ import annotations

import random
from collections.abc import Callable

MAX_TARGET_SCORE = 1000


def target(seed: int) -> int:
    """The number a solution should print for `seed` (a submission computes it the same way)."""
    return random.Random(seed).randint(1, 1000)


def target_score(seed: int, answer: float) -> float:
    return max(0.0, MAX_TARGET_SCORE - abs(answer - target(seed)))


def distance_score(seed: int, answer: float) -> float:
    return float(abs(answer - target(seed)))


PROBLEMS: dict[str, Callable[[int, float], float]] = {
    "target": target_score,
    "distance": distance_score,
}
