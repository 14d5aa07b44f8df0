"""Runners: launch searchers across seeds and datasets, write results, tables and plots."""
