"""Validator-to-validator transport: authenticated asyncio TCP with length-prefixed msgspec frames."""
