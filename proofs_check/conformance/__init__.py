"""Conformance: does another implementation of the weighting step match the reference, and if
not, where does it first depart and why? ``harness`` compares step by step and diagnoses,
``golden`` holds shipped reference trajectories, ``cli`` is ``python -m proofs_check conform``."""

from .harness import (METHOD_NAMES, ConformanceReport, MethodSpec, StepFn, check_weighting,
                      compare, default_problem, diagnose, drive, from_torch, reference_inputs)

__all__ = ["METHOD_NAMES", "ConformanceReport", "MethodSpec", "StepFn", "check_weighting",
           "compare", "default_problem", "diagnose", "drive", "from_torch", "reference_inputs"]
