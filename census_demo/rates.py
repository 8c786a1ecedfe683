"""How often each real-census defect is planted: the knobs of `census generate --rate`."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass
class Rates:
    """How often each real-census defect is planted (per household unless noted)."""

    self_final: float = 0.30  # households that self-enumerate by QR code (final)
    long_form: float = 0.10  # long-form sample households
    pre_registration: float = 0.08  # enumerator pre-registration before 11-01, superseded
    partial_self: float = 0.06  # incomplete self-enumeration, superseded by a final
    no_final: float = 0.004  # only a partial or a pre-registration ever arrives
    short_after_long: float = 0.2  # of long-form households: a later short final too (long wins)
    missing_household: float = 0.004  # listed, never enumerated
    unlisted_household: float = 0.003  # found during enumeration, not in the frame
    redelivered_batch: float = 0.04  # per batch file: delivered again under another name
    conflicting_redelivery: float = 0.0005  # per submission: re-sent later with other contents
    malformed_line: float = 0.003  # per submission: a corrupted copy is also delivered
    outside_area: float = 0.0003  # per household: a submission from outside the census area
    gzip_file: float = 0.15  # per batch file
    truncated_gzip: float = 0.01  # per batch file: a damaged gzip re-delivery
    id_contradiction: float = 0.003  # per person: form sex or birth month contradicts the ID
    invalid_id: float = 0.004  # per person: an ID number that fails GB 11643
    born_after_standard_time: float = 0.01  # of households with a young mother: a baby born 11-01 or later
    duplicate_person: float = 0.003  # per household: a member also counted in another household
    omitted_person: float = 0.003  # per household: a resident left off the person lines
    register_only: float = 0.004  # per household: a registrant missing from the census
    name_typo: float = 0.01  # per register record
    name_homophone: float = 0.01  # per register record
    register_id_error: float = 0.001  # per register record: a wrong ID in the register
    register_update: float = 0.01  # per register record: a newer extract re-delivers it
    hk_macao_taiwan_or_foreign: float = 0.004  # per household: a resident from HK, Macao, Taiwan or abroad
    # coverage: who the census misses without any trace (the household forgets them), and the
    # post-enumeration survey (PES) that measures it
    census_miss_person: float = 0.003  # per resident after the first: infants x4, 80+ x2, lodgers x4, migrants x2
    pes_ea_fraction: float = 0.05  # of enumeration areas, stratified by county x urban/rural (2+ per stratum)
    pes_miss_household: float = 0.02  # the PES's own misses, independent of the census's
    pes_miss_person: float = 0.02
    pes_name_typo: float = 0.01  # per PES person line
    pes_id_missing: float = 0.02  # per PES person line: the ID number not given
