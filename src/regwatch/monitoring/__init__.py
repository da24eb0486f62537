"""What customers follow and what they are told."""
