"""``oms demo``: the scripted story against a running stack (for now: a readiness check of every service)."""

from __future__ import annotations

import httpx


def run_demo(urls: dict[str, str]) -> int:
    """Run the demo against services at ``urls`` (service name -> base URL); return the exit code."""
    not_ready: list[str] = []
    with httpx.Client(timeout=5.0, trust_env=False) as client:
        for name, base_url in urls.items():
            try:
                status = client.get(f"{base_url.rstrip('/')}/ready").status_code
            except httpx.HTTPError as exc:
                status, detail = None, f"unreachable ({exc.__class__.__name__})"
            else:
                detail = f"HTTP {status}"
            print(f"demo: {name:<14} {base_url:<28} {detail}")
            if status != 200:
                not_ready.append(name)
    if not_ready:
        print(f"demo: not ready: {', '.join(not_ready)} (start the stack with `oms up`)")
        return 1
    print("demo: stack is ready")
    return 0
