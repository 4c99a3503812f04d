"""``oms demo``: check the stack is ready, then play the story through the public HTTP APIs."""

from __future__ import annotations

import httpx

from oms_shared.devstack.story import DemoFailed, play


def _not_ready(urls: dict[str, str]) -> list[str]:
    missing: list[str] = []
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
                missing.append(name)
    return missing


def run_demo(urls: dict[str, str]) -> int:
    """Run the demo against services at ``urls`` (service name -> base URL); return the exit code."""
    missing = _not_ready(urls)
    if missing:
        print(f"demo: not ready: {', '.join(missing)} (start the stack with `oms up`)")
        return 1
    try:
        story = play(urls)
    except DemoFailed as exc:
        print(f"demo: FAILED: {exc}")
        return 1
    except httpx.HTTPError as exc:
        print(f"demo: FAILED: {exc.__class__.__name__}: {exc}")
        return 1
    print(console_invitation(urls, story.facts))
    return 0


def console_invitation(urls: dict[str, str], facts: dict[str, object]) -> str:
    """Where a person opens what the demo left, and who to sign in as."""
    lines = [f"demo: open the console at {urls.get('console', 'http://127.0.0.1:8100')} and sign in as"]
    logins = facts.get("logins")
    if isinstance(logins, dict):
        for kind in ("supplier", "buyer"):
            if kind in logins:
                company, person, email, password = logins[kind]
                lines.append(f"demo:   {kind:<8} {person} ({company}): {email} / {password}")
    return "\n".join(lines)
