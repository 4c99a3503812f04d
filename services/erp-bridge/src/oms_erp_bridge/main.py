"""Console entry point ``oms-erp-bridge``: one process serving HTTP and consuming events."""

from __future__ import annotations

from oms_erp_bridge.app import create_app
from oms_erp_bridge.settings import Settings
from oms_shared.service import serve


def main() -> None:
    settings = Settings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
