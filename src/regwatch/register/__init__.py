"""The register mirror: persons, their personal codes, events and changes."""
