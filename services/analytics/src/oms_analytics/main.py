"""Console entry point ``oms-analytics``: one process serving HTTP and consuming events."""

from __future__ import annotations

from oms_shared.service import serve

from oms_analytics.app import create_app
from oms_analytics.settings import Settings


def main() -> None:
    settings = Settings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
