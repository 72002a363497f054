"""Run workers forked from a warm process instead of started cold, one per run.

Dagster's code server starts every run in a fresh interpreter (`multiprocessing` spawn), which
imports Dagster and rebuilds the definitions before the first step: 2.0-2.5 CPU-seconds a run,
whatever the job, 27 % of the run workers' CPU at the session 16 rehearsal's peak and about half
of what a stock, release or status run spends in all. `launcher.WarmRunLauncher` keeps one
process (`zygote`) that has done that work once and forks each run's worker from it: the
worker starts with Dagster imported and the definitions built, opens the instance, and runs the
job exactly as `dagster api execute_run` would (`worker`).
"""
