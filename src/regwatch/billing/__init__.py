"""Price lists and charges."""
