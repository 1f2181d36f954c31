"""Test-only engines, backends and wire checks (never imported by the server itself)."""
