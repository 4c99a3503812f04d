"""Console entry point ``oms-orders``: one process serving HTTP and consuming events."""

from __future__ import annotations

from oms_orders.app import create_app
from oms_orders.settings import Settings
from oms_shared.service import serve


def main() -> None:
    settings = Settings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
