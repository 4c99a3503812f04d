"""OMS Analytics service."""
