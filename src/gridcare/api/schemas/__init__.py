"""Request/response schemas of the JSON API, one module per domain (X / XIn / XPatch)."""
