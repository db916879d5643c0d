"""api/rest package."""
