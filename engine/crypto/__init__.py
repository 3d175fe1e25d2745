"""Cryptography for the engine: thin wrappers over the `cryptography` package."""
