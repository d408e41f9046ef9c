"""The block explorer: static ES modules served at ``/explorer/`` that read the chain through public JSON-RPC.

``site`` builds the aiohttp sub-application (static files and the page's ``config.json``); the node mounts it
next to its JSON-RPC endpoint, and ``pysei explorer`` serves it standalone in front of any node through an
allow-listed proxy (``proxy``).
"""
