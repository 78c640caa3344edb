"""A figure worker that cannot draw leaves the drawing to the main process (that the worker's
figures are the files ``make_figures`` draws is asserted on the quick suite's result, in
tests/test_cli.py)."""

import numpy as np

from proofs_check.report import figure_worker


def test_a_worker_that_fails_hands_the_drawing_back():
    worker = figure_worker.FigureWorker()
    worker.submit({"id": "rate", "verdict": "pass"}, {"no": np.zeros(1)}, "")   # cannot draw
    assert worker.take() is None
    with figure_worker.FigureWorker() as idle:
        assert idle.take() == ([], {})
