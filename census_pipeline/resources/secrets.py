"""Secrets from the environment (Dagster EnvVar), never from code or config files."""

from __future__ import annotations

import dagster as dg

from census_pipeline.dbt_plugin import DEV_KEY


class PseudonymKey(dg.ConfigurableResource):
    """The secret key of the keyed pseudonyms (HMAC-SHA256) that replace ID numbers in
    microdata (CENSUS_PSEUDONYM_KEY). The demo's built-in development key says so loudly."""

    key: str

    @property
    def is_development_key(self) -> bool:
        return self.key == DEV_KEY

    def announce(self, log) -> None:
        if self.is_development_key:
            log.warning(
                "USING THE BUILT-IN DEVELOPMENT PSEUDONYM KEY: person_key values are NOT secret. "
                "Set CENSUS_PSEUDONYM_KEY to a secret of your own before processing real census data."
            )
