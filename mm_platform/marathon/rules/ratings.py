"""The Marathon Match ("Qubits") rating step, exactly as the Java reference computes it (spec 3).

Pure: numpy and pandas only. IEEE doubles with the reference's own erf and inverse-normal
approximations, integer-division cap and Java rounding, so the integer results match the Java
service bit for bit. The one intended difference (decision 9.2): a pass with a single coder leaves
that coder unrated instead of writing rating 0.

The O(N²) expected-rank step runs on blocks of rows so memory stays bounded (about 16 MB per block
of temporaries at 10,000 coders).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

NEW_CODER_RATING = 1200
NEW_CODER_VOLATILITY = 515
FIRST_VOLATILITY = 385
INITIAL_WEIGHT = 0.60
FINAL_WEIGHT = 0.18
PROVISIONAL = "provisional"
NON_PROVISIONAL = "non_provisional"
BLOCK_ELEMENTS = 1 << 21  # rows x coders per block of the expected-rank matrix

INPUT_COLUMNS = ["coder_id", "old_rating", "old_vol", "num_ratings", "score"]
OUTPUT_COLUMNS = ["coder_id", "new_rating", "new_vol", "num_ratings", "rated_pass"]

# Acklam's inverse-normal coefficients, as in AlgorithmQubits.java
_A = (
    -3.969683028665376e01,
    2.209460984245205e02,
    -2.759285104469687e02,
    1.383577518672690e02,
    -3.066479806614716e01,
    2.506628277459239e00,
)
_B = (
    -5.447609879822406e01,
    1.615858368580409e02,
    -1.556989798598866e02,
    6.680131188771972e01,
    -1.328068155288572e01,
)
_C = (
    -7.784894002430293e-03,
    -3.223964580411365e-01,
    -2.400758277161838e00,
    -2.549732539343734e00,
    4.374664141464968e00,
    2.938163982698783e00,
)
_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00)
_P_LOW = 0.02425
_P_HIGH = 1.0 - _P_LOW


def erf_approx(z: np.ndarray) -> np.ndarray:
    """Numerical Recipes' erfc-based erf (|error| < 1.2e-7), with the reference's operations in the
    reference's order; in place, because it runs on the N x N expected-rank matrix."""
    z = np.asarray(z, dtype=np.float64)
    t = np.abs(z)
    t *= 0.5
    t += 1.0
    np.divide(1.0, t, out=t)
    poly = t * 0.17087277
    poly += -0.82215223
    for coefficient in (1.48851587, -1.13520398, 0.27886807, -0.18628806, 0.09678418, 0.37409196, 1.00002368):
        poly *= t
        poly += coefficient
    poly *= t
    e = z * z
    np.negative(e, out=e)
    e -= 1.26551223
    e += poly
    np.exp(e, out=e)
    e *= t
    np.subtract(1.0, e, out=e)
    np.negative(e, out=e, where=z < 0)
    return e


def norm_inv(p: np.ndarray) -> np.ndarray:
    """Acklam's inverse normal CDF with one Halley refinement step (AlgorithmQubits.normsinv)."""
    p = np.asarray(p, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        q_tail = np.sqrt(-2 * np.log(np.where(p < _P_LOW, p, 1 - p)))
        tail = (
            ((((_C[0] * q_tail + _C[1]) * q_tail + _C[2]) * q_tail + _C[3]) * q_tail + _C[4]) * q_tail + _C[5]
        ) / ((((_D[0] * q_tail + _D[1]) * q_tail + _D[2]) * q_tail + _D[3]) * q_tail + 1)
        q = p - 0.5
        r = q * q
        central = (
            (((((_A[0] * r + _A[1]) * r + _A[2]) * r + _A[3]) * r + _A[4]) * r + _A[5])
            * q
            / (((((_B[0] * r + _B[1]) * r + _B[2]) * r + _B[3]) * r + _B[4]) * r + 1)
        )
        x = np.where(p < _P_LOW, tail, np.where(p > _P_HIGH, -tail, central))
        inside = (p > 0) & (p < 1)
        e = 0.5 * (1.0 - erf_approx(-x / np.sqrt(2.0))) - p
        u = e * np.sqrt(2.0 * np.pi) * np.exp((x * x) / 2.0)
        refined = np.where(inside, x - u / (1.0 + x * u / 2.0), x)
    return np.where(p <= 0, -np.inf, np.where(p >= 1, np.inf, refined))


def java_round(x: np.ndarray) -> np.ndarray:
    """Java's Math.round for these magnitudes: floor(x + 0.5), and NaN -> 0."""
    return np.where(np.isnan(x), 0.0, np.floor(x + 0.5))


@dataclass(frozen=True)
class PassResult:
    new_rating: np.ndarray  # int64
    new_vol: np.ndarray  # int64
    expected_rank: np.ndarray
    expected_perf: np.ndarray
    actual_rank: np.ndarray
    actual_perf: np.ndarray
    average_rating: float
    competition_factor: float


def expected_ranks(rating: np.ndarray, vol: np.ndarray, needed: np.ndarray | None = None) -> np.ndarray:
    """0.5 + Σ_j WP(j, i) for the coders i in `needed` (default all; NaN elsewhere). The sum runs
    over every coder j, including i itself. Coders with the same (rating, volatility) have the same
    row, so each distinct pair is computed once: pass A needs only the new coders, who all start
    at 1200/515, and costs O(N) instead of O(N²)."""
    n = rating.size
    out = np.full(n, np.nan)
    rows_of = np.arange(n) if needed is None else np.flatnonzero(needed)
    if rows_of.size == 0:
        return out
    pairs, inverse = np.unique(np.stack([rating[rows_of], vol[rows_of]], axis=1), axis=0, return_inverse=True)
    row_rating, row_vol_sq = pairs[:, 0], pairs[:, 1] * pairs[:, 1]
    vol_sq = vol * vol
    per_pair = np.empty(len(pairs))
    block = max(1, BLOCK_ELEMENTS // max(n, 1))
    for start in range(0, len(pairs), block):
        stop = min(len(pairs), start + block)
        z = rating[None, :] - row_rating[start:stop, None]  # R_j - R_i
        z /= np.sqrt(2.0 * (vol_sq[None, :] + row_vol_sq[start:stop, None]))
        wp = erf_approx(z)
        wp += 1.0
        wp *= 0.5
        per_pair[start:stop] = 0.5 + wp.sum(axis=1)
    out[rows_of] = per_pair[inverse.reshape(-1)]
    return out


def actual_ranks(score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shared average rank of each tie group (exact equality) and its performance."""
    n = score.size
    _, inverse, counts = np.unique(-score, return_inverse=True, return_counts=True)
    above = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.float64)  # coders strictly better
    count = counts.astype(np.float64)
    rank = above + 0.5 + count / 2.0
    perf = -norm_inv((above + count / 2.0) / n)
    return rank[inverse], perf[inverse]


def rate_pass(
    rating: np.ndarray,
    vol: np.ndarray,
    num_ratings: np.ndarray,
    score: np.ndarray,
    needed: np.ndarray | None = None,
) -> PassResult:
    """One run of the algorithm over a set of coders (ratings/volatilities already defaulted).
    Results are computed for the coders in `needed` (default all); the field is always everyone."""
    n = rating.size
    rating = rating.astype(np.float64)
    vol = vol.astype(np.float64)
    average = rating.sum() / n
    with np.errstate(divide="ignore", invalid="ignore"):
        competition_factor = float(np.sqrt((vol * vol).sum() / n + ((rating - average) ** 2).sum() / (n - 1)))
    expected_rank = expected_ranks(rating, vol, needed)
    expected_perf = -norm_inv((expected_rank - 0.5) / n)
    actual_rank, actual_perf = actual_ranks(score.astype(np.float64))

    performed_as = rating + (actual_perf - expected_perf) * competition_factor
    weight = (INITIAL_WEIGHT - FINAL_WEIGHT) / (num_ratings + 1) + FINAL_WEIGHT
    weight = 1 / (1 - weight) - 1
    weight = np.where((rating >= 2000) & (rating < 2500), weight * 4.5 / 5.0, weight)
    weight = np.where(rating >= 2500, weight * 4.0 / 5.0, weight)
    with np.errstate(invalid="ignore"):
        new = (rating + weight * performed_as) / (1 + weight)
        cap = 150 + 1500 // (2 + num_ratings)  # integer division, as in Java
        new = np.where(rating - new > cap, rating - cap, new)
        new = np.where(new - rating > cap, rating + cap, new)
        new = np.where(new < 1, 1.0, new)
        new_vol = np.where(
            num_ratings != 0,
            java_round(np.sqrt((vol * vol) / (1 + weight) + ((new - rating) * (new - rating)) / weight)),
            float(FIRST_VOLATILITY),
        )
    return PassResult(
        new_rating=java_round(new).astype(np.int64),
        new_vol=new_vol.astype(np.int64),
        expected_rank=expected_rank,
        expected_perf=expected_perf,
        actual_rank=actual_rank,
        actual_perf=actual_perf,
        average_rating=float(average),
        competition_factor=competition_factor,
    )


def _prepare(coders: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in INPUT_COLUMNS if c not in coders.columns]
    if missing:
        raise ValueError(f"rate_round needs columns {INPUT_COLUMNS}; missing {missing}")
    if coders["coder_id"].isna().any():
        raise ValueError("coder_id must not be null")
    if coders["coder_id"].duplicated().any():
        duplicated = coders.loc[coders["coder_id"].duplicated(), "coder_id"].tolist()
        raise ValueError(f"coder_id must be unique; duplicated: {duplicated[:10]}")
    frame = pd.DataFrame(
        {
            "coder_id": coders["coder_id"].to_numpy(),
            "old_rating": pd.to_numeric(coders["old_rating"], errors="raise").to_numpy(
                dtype=np.float64, na_value=np.nan
            ),
            "old_vol": pd.to_numeric(coders["old_vol"], errors="raise").to_numpy(
                dtype=np.float64, na_value=np.nan
            ),
            "num_ratings": pd.to_numeric(coders["num_ratings"], errors="raise")
            .fillna(0)
            .to_numpy(dtype=np.int64),
            # a NULL score reads as 0.0, as the reference's loader does
            "score": pd.to_numeric(coders["score"], errors="raise").fillna(0.0).to_numpy(dtype=np.float64),
        }
    )
    new = (frame["num_ratings"] == 0) | frame["old_rating"].isna()
    frame["is_new"] = new
    frame["num_ratings"] = np.where(new, 0, frame["num_ratings"])
    # Java truncates the stored rating/volatility to int; a new coder starts at 1200/515
    frame["rating"] = np.where(new, NEW_CODER_RATING, np.trunc(frame["old_rating"].fillna(0))).astype(
        np.int64
    )
    frame["vol"] = np.where(new, NEW_CODER_VOLATILITY, np.trunc(frame["old_vol"].fillna(0))).astype(np.int64)
    # one canonical order (the loader's: score desc, then id) makes the result independent of row order
    return frame.sort_values(["score", "coder_id"], ascending=[False, True], kind="mergesort").reset_index(
        drop=True
    )


def rate_round(coders: pd.DataFrame) -> pd.DataFrame:
    """Rate one round. Input columns: coder_id, old_rating, old_vol, num_ratings, score (old_rating
    null or num_ratings 0 = new coder). Output, one row per input coder in input order: coder_id,
    new_rating, new_vol, num_ratings, rated_pass ('provisional' / 'non_provisional', or None with
    null rating and unchanged num_ratings when a single-coder pass leaves the coder unrated)."""
    if len(coders) == 0:
        return pd.DataFrame(
            {
                c: pd.Series(dtype=t)
                for c, t in zip(OUTPUT_COLUMNS, ["int64", "Int64", "Int64", "int64", "object"], strict=True)
            }
        )
    frame = _prepare(coders)
    n = len(frame)
    new_rating = np.full(n, -1, dtype=np.int64)
    new_vol = np.full(n, -1, dtype=np.int64)
    rated_pass = np.full(n, None, dtype=object)
    is_new = frame["is_new"].to_numpy()
    rating, vol = frame["rating"].to_numpy(), frame["vol"].to_numpy()
    num_ratings, score = frame["num_ratings"].to_numpy(), frame["score"].to_numpy()

    # Pass A: everybody, at pre-round ratings; only the new coders' results are kept.
    if n >= 2 and is_new.any():
        a = rate_pass(rating, vol, num_ratings, score, needed=is_new)
        new_rating[is_new], new_vol[is_new] = a.new_rating[is_new], a.new_vol[is_new]
        rated_pass[is_new] = PROVISIONAL
    # Pass B: experienced coders against each other only.
    experienced = ~is_new
    if experienced.sum() >= 2:
        b = rate_pass(rating[experienced], vol[experienced], num_ratings[experienced], score[experienced])
        new_rating[experienced], new_vol[experienced] = b.new_rating, b.new_vol
        rated_pass[experienced] = NON_PROVISIONAL

    rated = rated_pass != None  # noqa: E711 - elementwise on an object array
    result = pd.DataFrame(
        {
            "coder_id": frame["coder_id"].to_numpy(),
            "new_rating": pd.array(np.where(rated, new_rating, 0), dtype="Int64"),
            "new_vol": pd.array(np.where(rated, new_vol, 0), dtype="Int64"),
            "num_ratings": np.where(rated, num_ratings + 1, num_ratings).astype(np.int64),
            "rated_pass": rated_pass,
        }
    )
    result.loc[~rated, ["new_rating", "new_vol"]] = pd.NA
    # back to the caller's row order
    order = pd.Series(range(len(coders)), index=coders["coder_id"].to_numpy())
    return result.iloc[np.argsort(order.loc[result["coder_id"]].to_numpy())].reset_index(drop=True)
