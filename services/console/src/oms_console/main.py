"""Console entry point ``oms-console``: serve the web console."""

from __future__ import annotations

import uvicorn

from oms_console.app import create_app
from oms_console.settings import Settings


def main() -> int:
    settings = Settings()
    uvicorn.run(
        create_app(settings), host=settings.http_host, port=settings.http_port, log_config=None, access_log=False
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
