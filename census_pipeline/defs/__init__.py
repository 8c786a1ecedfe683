"""Definitions, one folder per census stage in the order data flows."""
