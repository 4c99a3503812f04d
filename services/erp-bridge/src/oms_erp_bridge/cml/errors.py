"""The one exception the CommerceML codec raises, so a caller can turn any bad file into `failure\\n<reason>`."""

from __future__ import annotations


class CmlError(ValueError):
    """A CommerceML file (or a value in it) that cannot be read or written; the message is for a person."""
