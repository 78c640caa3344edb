"""Conformance: does another implementation of the weighting step match the reference, and if
not, where does it first depart and why? ``harness`` compares step by step and diagnoses
(``departures`` holds the known departures and the search over their combinations), ``record``
records a weighting inside a real training loop and replays the reference on what it saw,
``adapters`` bridge torch and TorchJD, ``golden`` holds shipped reference trajectories, ``cli``
is ``python -m proofs_check conformance``."""

from .adapters import adapt, from_torch, from_torchjd
from .harness import (METHOD_NAMES, TOLERANCES, ConformanceReport, MethodSpec, StepFn,
                      check_weighting, compare, default_problem, diagnose, drive, judge,
                      reference_inputs)
from .record import Recorder, Recording, check_recording, load_recording, record

__all__ = ["METHOD_NAMES", "TOLERANCES", "ConformanceReport", "MethodSpec", "Recorder",
           "Recording", "StepFn", "adapt", "check_recording", "check_weighting", "compare",
           "default_problem", "diagnose", "drive", "from_torch", "from_torchjd", "judge",
           "load_recording", "record", "reference_inputs"]
