"""Shared resources: the DuckDB warehouse and the landing zone, configured from the environment."""

from census_pipeline.resources.secrets import PseudonymKey
from census_pipeline.resources.warehouse import LandingZone, OutputDir, Warehouse

__all__ = ["LandingZone", "OutputDir", "PseudonymKey", "Warehouse"]
