"""OMS Orders service."""
