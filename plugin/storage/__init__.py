"""Persistence: models, secrets at rest, and queries."""
