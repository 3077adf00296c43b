"""Rating time of the vectorised engine next to the plain per-pair Python loop of the same maths.

    .venv/bin/python benchmarks/ratings.py [--sizes 1000 5000] [--repeat 7] [--loop-max 5000]

Rounds are synthetic: 30% new coders, ratings 300-3500, scores with two decimals (seeded).
Targets (the Java reference's warm times on 2 vCPUs): 1,000 coders <= 50 ms, 5,000 <= 1.2 s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from mm_platform.marathon.rules.ratings import rate_round

# the plain loop is the tests' cross-check of the engine, kept with them
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mm_platform_tests.marathon.ratings_loop import rate_round_loop


def synthetic_round(n: int, seed: int = 42, new_share: float = 0.3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    new = rng.random(n) < new_share
    return pd.DataFrame(
        {
            "coder_id": np.arange(1, n + 1),
            "old_rating": np.where(new, np.nan, rng.integers(300, 3500, n)),
            "old_vol": np.where(new, np.nan, rng.integers(100, 600, n)),
            "num_ratings": np.where(new, 0, rng.integers(1, 60, n)),
            "score": np.round(rng.random(n) * 1000, 2),
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--loop-max", type=int, default=5000, help="largest round also run through the loop")
    args = parser.parse_args()
    print(f"{'coders':>7} {'vectorised median (min)':>26} {'first':>9} {'plain loop':>11} {'speed-up':>9}")
    for n in args.sizes:
        frame = synthetic_round(n)
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            result = rate_round(frame)
            times.append(time.perf_counter() - start)
        median = statistics.median(times[1:]) if len(times) > 1 else times[0]
        loop_text, speedup = "skipped", ""
        if n <= args.loop_max:
            ordered = frame.sort_values(["score", "coder_id"], ascending=[False, True])
            rows = [
                (
                    r.coder_id,
                    None if np.isnan(r.old_rating) else r.old_rating,
                    None if np.isnan(r.old_vol) else r.old_vol,
                    r.num_ratings,
                    r.score,
                )
                for r in ordered.itertuples()
            ]
            start = time.perf_counter()
            loop = rate_round_loop(rows)
            loop_seconds = time.perf_counter() - start
            same = all(
                loop[c] == (int(r.new_rating), int(r.new_vol), int(r.num_ratings), r.rated_pass)
                for c, r in zip(result["coder_id"], result.itertuples(), strict=True)
            )
            loop_text = f"{loop_seconds:9.2f} s" + ("" if same else " DIFFERENT")
            speedup = f"{loop_seconds / median:8.0f}x"
        print(
            f"{n:>7} {median * 1000:>14.1f} ms ({min(times) * 1000:6.1f}) {times[0] * 1000:7.1f}ms "
            f"{loop_text:>11} {speedup:>9}"
        )


if __name__ == "__main__":
    main()
