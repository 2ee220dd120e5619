"""The scale-out layer: run configs and options, the runner, claims, the matrix, the launcher, the worker and the
built-in executors. Imports the results, engine and contract layers below it."""
