"""swa_plots: the kit's figures from saved results; `python3 plots/make_plots.py` runs swa_plots.cli.main.

One module per figure (fig_*.py), the loading and checking of result files (load.py, bench.py), the README's
results block (readme.py), what they share (common.py), and the command (cli.py, whose docstring says how
to add a figure).
"""
