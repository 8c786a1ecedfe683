"""Definitions, one folder per census stage in the order the data flows, loaded by
census_pipeline/definitions.py (`dg.load_from_defs_folder`):

- ingestion/       landing zone -> restricted `raw` schema: batches, registers, frame, ledger, quarantine
- microdata/       staging, edits and imputation, cleaned microdata (the first `dbt build`)
- linkage/         census <-> household registration, births and deaths (dbt models in that build)
- coverage_survey/ the post-enumeration survey's matching and estimates (dbt models in that build)
- quality/         the Great Expectations gates between the stages, the offline quality pages
- publication/     the bulletin tables (the second `dbt build`) and the published files
- automation/      the census_all job, the nightly schedule, the sensors

Shared by the stages: dbt.py (the dbt project, translator and build), metadata.py (row counts and
column schemas), retries.py (transient I/O errors).
"""
