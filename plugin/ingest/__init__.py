"""Ingestion: reading events, orders, clients and visits, rate limits and the storage writes."""
