"""Demo census generator: a landing zone that follows `../shared/spec`, and its truth.

The generated city is calibrated to Hangzhou's published seventh-census figures (county
populations, family/collective households, household sizes, sex ratio, age structure),
with migrants, people registered here but living elsewhere, dormitories and care homes, a
10% long-form sample, deaths and births, and register extracts consistent with the
population. Every defect a real census has is planted at a configurable rate, and the
truth file says what the pipeline must make of it.

Households are generated one at a time and written straight to their batch files, so
memory stays bounded whatever the size; only small per-county counters are kept.

A product of its own beside the pipeline: `census generate`, the benchmarks and the tests
use it; the pipeline never imports it (the truth files' names it shares with the pipeline
come from census_pipeline.lib.truth_files). The modules, in the order a census is drawn:

    rates            how often each defect is planted
    calibration      the published figures the city is drawn to, and where migrants come from
    geography        enumeration areas and the uniqueness of household IDs
    names            plausible Chinese names, and their homophones and typos
    ids              ID numbers (GB 11643): unique across counties, and planted invalid ones
    population       persons and a household's members
    households       a household, the events of its year and its planted defects
    submissions      its forms, delivered as lines of batch files (batches: the files)
    counting         what a counted household adds to the truth
    registers        the hukou, birth and death extracts, and registrants the census misses
    coverage_survey  the post-enumeration survey and the true omission rate
    truth            the truth JSON and the record-to-person truth links
    fast             exact, faster stand-ins for library calls made millions of times
    generator        the whole census, county by county (in worker processes), and `generate`
"""

from census_demo.generator import Generator, generate
from census_demo.rates import Rates

__all__ = ["Generator", "Rates", "generate"]
