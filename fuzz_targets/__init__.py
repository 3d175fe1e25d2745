"""fuzz_targets."""
