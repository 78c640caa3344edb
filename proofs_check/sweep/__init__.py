"""Sweeps at scale on Dask: where each claim holds over seeds × noise × step sizes × tasks ×
batch size. ``grid`` reads the grid file, ``cell`` runs one cell (a batch of seeds through
``gpu/``), ``store`` keeps every finished cell on disk, ``runner`` drives Dask, ``maps`` draws
the phase diagrams, ``cli`` is ``python -m proofs_check sweep``."""

from .grid import EXAMPLE, Grid, load_grid
from .runner import run_sweep

__all__ = ["EXAMPLE", "Grid", "load_grid", "run_sweep"]
