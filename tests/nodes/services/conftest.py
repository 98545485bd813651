"""Fixtures shared by the outgoing-HTTP tests."""

from __future__ import annotations

import ssl

import pytest
import trustme


@pytest.fixture
def tls(tmp_path):
    """A server TLS context with a certificate for ``localhost`` only (not 127.0.0.1), and the CA file."""
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return server_context, str(ca_file)
