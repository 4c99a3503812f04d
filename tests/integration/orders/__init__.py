"""Integration tests of the orders service."""
