"""Outbound transport: HTTP and SMTP with the SSRF guard and per-destination isolation."""
