"""The record layer: deframing, per-epoch protection, sequence numbers."""
