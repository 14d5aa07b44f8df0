"""Measurement scripts: each prints figures of speed or memory for the code it names, run as ``python -m
runners.perf.NAME``; library code never imports them (timed tests are not used: a target is checked by reading a figure).

``oracle`` (load and queries of the shipped table), ``table`` (a table with curves), ``pth_import`` (an official
``.pth`` beside the official loader), ``query`` and ``engine`` (query-only runs, serial and on the batch engine),
``supernet`` (forward/backward per mode), ``weight_sharing`` (each weight-sharing step beside xautodl's, driven by
``xautodl_steps``), ``data`` (reading the JPEG set), ``train`` (the benchmark's training step), ``device_check`` (the
one prepared script a short GPU window runs).
"""
