"""Reference numbers shipped with w2sg: the paper's Table 1 (``paper_table1.csv``, MATH.md 8.4)."""
