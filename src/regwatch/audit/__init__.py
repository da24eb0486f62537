"""The provision log: who was handed what, and why."""
