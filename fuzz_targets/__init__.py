"""Atheris fuzz targets and the differential oracle they share (they arrive with the engine)."""
