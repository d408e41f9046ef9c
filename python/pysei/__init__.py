"""pysei: a Sei-style, EVM-compatible L1 node — Python node, native revm kernel."""
