"""Pure functions: ID-number rules, code lists, landing-zone reading, the demo generator.

Nothing in here imports dagster, so it can be tested and reused alone.
"""
