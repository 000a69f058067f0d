"""The JSON API for e-office systems and scripts (docs/api.md)."""
