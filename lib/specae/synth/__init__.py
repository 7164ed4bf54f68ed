"""The synthetic HARPS-like survey: a stellar population, line lists and profiles, tellurics, and the
renderer that turns them into spectra with ground-truth labels."""

from specae.synth.survey import SyntheticConfig, SyntheticSurvey

__all__ = ["SyntheticConfig", "SyntheticSurvey"]
