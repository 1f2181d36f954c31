"""Text handling in front of the engines (pure)."""
