"""A corpus of real public ExcessMTL ports, re-implemented from their weighting steps.

Each module re-implements, in our own NumPy code, what one public implementation's weighting
step does (its docstring cites the repository, the file and the commit read, and says in our
words what the code does). ``corpus`` records each in a small training loop and says what a
right diagnosis of it is; ``tests/test_ports.py`` asserts the oracle's diagnosis and
``tools/port_table.py`` writes the table of docs/conformance.md from the same corpus.
"""
