"""Hostile input against running services: bodies, files, names."""
