"""Committed test data (RFC 8448 trace steps in rfc8448/, written by tools/extract_rfc8448.py)."""
