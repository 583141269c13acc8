"""Reports from the run store: the paper's Table 1 and Figures 1-6, and the one-run summary.

Modules (import them directly; this package imports nothing):

* ``w2sg.report.collect``: finished runs -> one tidy DataFrame (run, seed, model label).
* ``w2sg.report.tables``: Table 1 with mean ± s.e. over seeds and paired tests against CE.
* ``w2sg.report.figures``: Figures 1-6 and ``make_report`` (everything at once).
* ``w2sg.report.run_summary``: the bar chart the pipeline draws for each finished run.
"""
