"""Codecs for TLS 1.3 records, handshake messages and extensions: no crypto, no state."""
