"""The project's sample scorer (spec §3): a real program, run by the local launcher through Dagster
Pipes, that downloads a submission, runs its solution on the phase's seeds and reports the scores.
Stdlib and `dagster_pipes` only, so it runs in any scorer image without Dagster installed."""
