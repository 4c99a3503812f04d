"""Unit tests of the orders service."""
