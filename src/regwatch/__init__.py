"""regwatch: change monitoring for a population register."""

__version__ = "0.1.0"
