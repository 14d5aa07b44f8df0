"""Building a benchmark: the command line (``python -m runners.generate``, `runners.generate.__main__`) and the
dispatch of a plan's training jobs over the batch engine (`runners.generate.engine`). What a job is, how it trains
and how finished jobs become a table is `bench.generate`: this package only drives it. Nothing is imported here, so
the commands that only read (``show``, ``status``) start without torch."""
