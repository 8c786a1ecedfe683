"""Where a generated census's truth files lie: beside its landing zone, named after it.

`census generate` (the census_demo package) writes them; the pipeline reads the record-to-person
links when they are there (LandingZone.truth_links_path), and `census run --demo` takes the
truth JSON for the mark of a generated census. A real census has neither. Free of dagster, so
that the generator shares these names without importing the pipeline's resources.
"""

from pathlib import Path


def truth_path_for(landing: str | Path) -> Path:
    """`<landing>.truth.json`: what the pipeline must make of a generated census."""
    return Path(str(landing).rstrip("/") + ".truth.json")


def truth_links_path_for(landing: str | Path) -> Path:
    """`<landing>.truth_links.csv.gz`: which census lines and register records are the same person."""
    return Path(str(landing).rstrip("/") + ".truth_links.csv.gz")
