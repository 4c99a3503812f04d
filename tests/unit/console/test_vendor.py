"""The vendored browser libraries are exactly the files recorded (no CDN, no silent change)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import oms_console

VENDOR = Path(oms_console.__file__).parent / "static" / "vendor"
TEMPLATES = Path(oms_console.__file__).parent / "templates"


def test_every_vendored_file_matches_its_recorded_sha256() -> None:
    recorded = {}
    for line in (VENDOR / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split()
        recorded[name] = digest
    on_disk = {p.name for p in [*VENDOR.glob("*.js"), *VENDOR.glob("*.ttf")]}
    assert on_disk == set(recorded)
    for name, digest in recorded.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name


def test_pages_load_scripts_only_from_the_console() -> None:
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text()
        assert "https://" not in text.replace('"https://', ""), template  # nothing from a CDN
        assert "cdn" not in text.lower(), template
