"""filter package."""
