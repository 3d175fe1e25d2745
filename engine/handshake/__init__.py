"""The TLS 1.3 handshake: negotiation as pure functions, one small class per state."""
