"""Runners: launch searchers across seeds and datasets, write results, tables and plots.

``python -m runners run|batch|table|plot``; the Makefile wraps these. Modules: `layout` (run folders, atomic
writes), `seeds`, `plan` (validation -> RunSpecs), `run` (one run), `batch` (dask), `collect`, `table`, `plots`.
"""
