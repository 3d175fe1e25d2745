"""tlsdiff."""
