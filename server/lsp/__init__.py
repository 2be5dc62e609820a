"""The language server: a protocol adapter over `server.engine` (no key logic lives here)."""
