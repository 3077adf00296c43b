"""Crash soak: the same input on a clean run and on a run whose daemon (and once the broker) is
killed with SIGKILL at random points; prints events, kills, duplicates and mismatches.

    .venv/bin/python benchmarks/soak.py                      # 10,000 messages, 20 files
    .venv/bin/python benchmarks/soak.py --messages 400 --files 3 --rounds 2 --kills 2
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mm_platform_tests.soak import SoakPlan, build_input, mismatches, run_soak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--campaigns", type=int, default=3)
    parser.add_argument("--rows", type=int, default=2_000, help="rows per scored file")
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--kills", type=int, default=6, help="daemon kills (the broker is killed once)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--root", type=Path, help="keep the two stacks here (default: a temporary folder)")
    args = parser.parse_args()
    plan = SoakPlan(
        messages=args.messages,
        rounds=args.rounds,
        files=args.files,
        campaigns=args.campaigns,
        rows_per_file=args.rows,
        batches=args.batches,
        daemon_kills=args.kills,
        seed=args.seed,
        timeout_seconds=3600,
    )
    data = build_input(plan)
    root = args.root or Path(tempfile.mkdtemp(prefix="mm-soak-"))
    print(
        f"input: {data.events:,} messages in {len(data.steps)} batches, {data.uploads} uploads, "
        f"{len(data.rounds)} rounds, {len(data.campaigns)} campaigns; stacks in {root}"
    )
    print("clean run ...")
    clean = run_soak(plan, data, root / "clean", chaos=False)
    print(f"  {clean.seconds:.0f} s")
    print("chaos run ...")
    chaos = run_soak(plan, data, root / "chaos", chaos=True)
    print(f"  {chaos.seconds:.0f} s")
    found = mismatches(clean, chaos)
    rows = {part: sum(counter.values()) for part, counter in clean.snapshot.items()}
    print(
        f"events {data.events:,}  uploads {data.uploads}  duplicates {data.duplicates:,}  "
        f"daemon kills {chaos.daemon_kills}  broker kills {chaos.broker_kills}"
    )
    print("compared: " + ", ".join(f"{part} {n:,}" for part, n in rows.items()))
    print(
        f"lost {len(chaos.lost)}  stored twice {len(chaos.stored_twice)}  "
        f"mismatched parts {len(found)}  "
        f"Slack messages clean {clean.slack_messages} chaos {chaos.slack_messages}"
    )
    print(f"left unsettled: clean {clean.unsettled}  chaos {chaos.unsettled}")
    for part, lines in found.items():
        print(f"  {part}:")
        for line in lines:
            print(f"    {line[:300]}")
    return 0 if not found and not chaos.lost and not chaos.stored_twice else 1


if __name__ == "__main__":
    sys.exit(main())
