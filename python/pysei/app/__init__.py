"""Composition roots: the processes pysei runs (devnet, localnet validators)."""
