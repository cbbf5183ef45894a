"""The aiohttp server: app factory, routes, webhook intake."""
