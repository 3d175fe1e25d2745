"""Interop runs against real peers (s2n, OpenSSL, GnuTLS, Python ssl); they arrive with the engine."""
