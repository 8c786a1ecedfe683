"""Pure functions: ID-number rules, code lists, the landing zone's files, linkage, rendering
of the bulletin. Nothing here writes a table (the stages' assets under census_pipeline/defs do)
or imports the demo generator (census_demo); nothing imports dagster, so it can be tested and
reused alone.
"""
