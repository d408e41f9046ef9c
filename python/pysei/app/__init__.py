"""Composition roots: the only modules that wire the layers together into a running program.

``devnet.py`` builds the single-process devnet (node + JSON-RPC server); ``localnet.py`` a validator of a
network (node with the consensus engine as its ordering stage + JSON-RPC server) and the localnet of N of them.
Nothing below ``app`` imports it, so ``node/`` and ``rpc/`` never see each other: the node implements the narrow
interfaces the RPC layer asks for, and this package hands one to the other.
"""
