"""The RV-spread experiment read on every run (issue 23, chapter 08): each run's point (best RV node, its null
and window; :func:`~specae.analysis.rv_spread.survey_point`) and line-core error
(:func:`~specae.analysis.spread_lines.survey_line_cores`), and PCA's line-core error on each survey, all on the
first spectrum of the validation stars, read from the committed analyses where they are recorded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from specae.analysis.rv_spread import SpreadPoint, survey_point
from specae.analysis.spread_lines import FirstSpectra, survey_line_cores, survey_pca_line_cores
from specae.training.loop import TrainResult
from specae.training.presets import Preset

OWN_SCALE = 1.0  # the study's own survey: its velocities × 1


@dataclass(frozen=True)
class SpreadReadings:
    """points: family → one point per run (the own survey's seeds first, then the narrower surveys' runs);
    line_cores: family → each run's line-core error, in the same order; pca_cores: ``rv_scale`` → PCA's line-core
    error at the main size on that survey."""

    points: dict[str, list[SpreadPoint]]
    line_cores: dict[str, list[float]]
    pca_cores: dict[float, float]

    @property
    def every_point(self) -> list[SpreadPoint]:
        return [point for family in self.points.values() for point in family]

    @property
    def spreads(self) -> dict[float, float]:
        """``rv_scale`` → the survey's velocity spread (km/s)."""
        return {point.rv_scale: point.spread_kms for point in self.every_point}

    @property
    def narrowest(self) -> float:
        """The smallest ``rv_scale`` read."""
        return min(self.spreads)

    def pca_by_spread(self) -> dict[float, float]:
        """Velocity spread (km/s) → PCA's line-core error, as the figure's right panel takes it."""
        return {self.spreads[scale]: error for scale, error in self.pca_cores.items()}

    def median_cores(self, family: str, scale: float) -> float:
        """``family``'s line-core error on the survey with velocities × ``scale``, the median over its seeds."""
        errors = [error for point, error in zip(self.points[family], self.line_cores[family], strict=True)
                  if point.rv_scale == scale]
        if not errors:
            read = ", ".join(f"{s:g}" for s in _in_order({family: self.points[family]}))
            raise ValueError(f"no {family} run on the survey with velocities × {scale:g} (read: {read})")
        return float(np.median(errors))

    def rows(self) -> list[dict[str, object]]:
        """One table row per run: family, survey, spread, MI and null, RV node, window, line cores and PCA's."""
        return [{"model": family, "× velocities": point.rv_scale, "spread (km/s)": point.spread_kms,
                 "MI (nats)": point.mi, "null, 95 % (nats)": point.null, "RV node": point.has_rv_node,
                 "window half-width (km/s)": point.half_width_kms, "line cores": error,
                 "PCA line cores": self.pca_cores[point.rv_scale]}
                for family, runs in self.points.items()
                for point, error in zip(runs, self.line_cores[family], strict=True)]


def read_spread_surveys(config: Preset, own: Mapping[str, Mapping[int, TrainResult]],
                        spread_runs: Mapping[tuple[float, int, str], TrainResult], held_out: np.ndarray,
                        own_spectra: FirstSpectra) -> SpreadReadings:
    """The readings of every run. own: family → seed → run on ``config``'s survey, read on ``own_spectra`` (its
    first spectra, already in memory); spread_runs: (``rv_scale``, seed, family) → run on that narrower survey
    (rendered once, and only when a reading is not recorded); held_out: the validation stars' object ids."""
    points = {family: [survey_point(run.model, config.data, seed, own_spectra) for seed, run in runs.items()]
              for family, runs in own.items()}
    line_cores = {family: [survey_line_cores(run.model, config.data, held_out, own_spectra) for run in runs.values()]
                  for family, runs in own.items()}
    for (_, seed, family), run in spread_runs.items():
        points[family].append(survey_point(run.model, run.preset.data, seed))
        line_cores[family].append(survey_line_cores(run.model, run.preset.data, held_out))
    pca_cores = {scale: survey_pca_line_cores(config.with_overrides(rv_scale=scale).data, held_out,
                                              config.model.latent_dim, own_spectra if scale == OWN_SCALE else None)
                 for scale in _in_order(points)}
    return SpreadReadings(points, line_cores, pca_cores)


def _in_order(points: Mapping[str, list[SpreadPoint]]) -> list[float]:
    """Each ``rv_scale`` once, in the order the points first list it."""
    return list(dict.fromkeys(point.rv_scale for family in points.values() for point in family))
