"""The demo story renews an actor's one-minute access token with its refresh token before it lapses."""

from __future__ import annotations

import json
import time

import httpx

from oms_devstack.story import Actor, Story


def test_the_story_renews_a_token_about_to_lapse_and_uses_the_new_one() -> None:
    """Existing clients keep working with short tokens: the story refreshes before calling."""
    seen: list[tuple[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.path, request.headers.get("Authorization", "")))
        if request.url.path == "/api/v1/auth/refresh":
            assert json.loads(request.content) == {"refresh_token": "s1.old"}
            return httpx.Response(200, json={"access_token": "new", "refresh_token": "s1.next", "expires_in": 60})
        return httpx.Response(200, json={})

    client = httpx.Client(transport=httpx.MockTransport(handler))
    story = Story(urls={"orders": "http://orders", "inventory": "http://inventory"}, client=client, say=lambda _: None)
    actor = Actor(name="A", email="a@example.com", password="p")
    actor.signed_in({"access_token": "old", "refresh_token": "s1.old", "expires_in": 60})
    story.call("GET", "inventory", "/api/v1/warehouses", actor=actor)
    assert seen == [("/api/v1/warehouses", "Bearer old")]

    actor.token_expires_at = time.monotonic() + 5  # about to lapse
    story.call("GET", "inventory", "/api/v1/warehouses", actor=actor)
    assert seen[1:] == [("/api/v1/auth/refresh", ""), ("/api/v1/warehouses", "Bearer new")]
    assert actor.refresh_token == "s1.next"
