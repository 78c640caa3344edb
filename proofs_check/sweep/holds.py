"""Where the robustness claim holds, per row of a sweep: the claim's own rule (claims/robustness)
applied to each noise level against the lowest one, same seed, method and other axes:

  alpha_drift = α_{T,0}(noise) − α_{T,0}(lowest noise)       robust  = alpha_drift ≤ 0.05
  clean_harm  = clean_max_excess(noise) / clean_max_excess(lowest noise)
                                                              no_harm = clean_harm ≤ 1.10

Rows at the lowest noise compare with themselves (drift 0, harm 1): they hold by construction and
the maps mark them so. A diverged seed (NaN) does not hold. A row whose start already is the
scaled saddle (``start_is_saddle``: the weights cannot move) is not counted either way: its
``robust`` and ``no_harm`` are NaN, and the maps say "θ₀ = saddle".
"""

from __future__ import annotations

import numpy as np

from ..claims.robustness import DRIFT_TOL, HARM_TOL

CLAIM_COLUMNS = ("alpha_drift", "robust", "clean_harm", "no_harm")


def add_claim_columns(frame, axes: list[str]):
    """``frame`` with the columns above (a copy)."""
    frame = frame.copy()
    if "noise" not in frame.columns:
        frame["alpha_drift"], frame["clean_harm"] = 0.0, 1.0
    else:
        keys = [a for a in axes if a != "noise"] + ["seed", "method"]
        lowest = frame.loc[frame.groupby(keys, dropna=False)["noise"].idxmin(),
                           keys + ["alpha_noisy", "clean_max_excess"]]
        base = frame[keys].merge(lowest, on=keys, how="left")
        frame["alpha_drift"] = frame["alpha_noisy"].to_numpy() - base["alpha_noisy"].to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            frame["clean_harm"] = (frame["clean_max_excess"].to_numpy()
                                   / base["clean_max_excess"].to_numpy())
    robust = (frame["alpha_drift"].to_numpy() <= DRIFT_TOL).astype(float)
    no_harm = (frame["clean_harm"].to_numpy() <= HARM_TOL).astype(float)
    if "start_is_saddle" in frame.columns:
        degenerate = frame["start_is_saddle"].to_numpy() > 0.5
        robust[degenerate] = np.nan
        no_harm[degenerate] = np.nan
    frame["robust"], frame["no_harm"] = robust, no_harm
    return frame
