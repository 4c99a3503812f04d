"""Which buyer accounts a price list is open to travels with ``pricelist.updated``, and follows buyer changes."""

from __future__ import annotations

from pathlib import Path

from oms_shared.contracts import PriceListUpdatedV1
from oms_shared.topics import PRICE_LIST_UPDATED
from tests.integration.orders.helpers import a_world, orders_app, read_events, register, sign_in
from tests.support.services import running_service


async def test_price_list_snapshots_name_the_buyer_accounts_it_is_open_to_and_follow_buyer_changes(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path], kafka: str
) -> None:
    """R-STK-2 (buyers see availability): each ``pricelist.updated`` names the buyer accounts the list is open
    to, by buyer record or segment; when a buyer's segment, account or deletion changes which lists it may
    open, or a buyer joins by link, those lists are published again (a higher sequence) with the new set, so
    inventory can let exactly those buyers read availability. Lists whose set did not change are not
    published again."""
    app = orders_app(database_url, service_env, keys, start_consumers=False)
    async with running_service(app) as client:
        w = await a_world(client)
        dealer = await register(client, "buyer", "Dealer One")
        r = await client.post(
            "/api/v1/price-lists",
            headers=w.sup,
            json={"name": "Dealers", "segments": ["dealers"], "items": [{"sku": "A-1", "price": "9"}]},
        )
        assert r.status_code == 201, r.text
        dealers_pl = r.json()["price_list_id"]
        r = await client.post(
            "/api/v1/buyers",
            headers=w.sup,
            json={"name": "Dealer", "buyer_account_id": dealer["account_id"], "segment": "dealers"},
        )
        assert r.status_code == 201, r.text
        dealer_buyer = r.json()["buyer_id"]
        # The dealer moves to another segment, then the supplier deletes the buyer record of Buyer LLC.
        r = await client.patch(f"/api/v1/buyers/{dealer_buyer}", headers=w.sup, json={"segment": "retail"})
        assert r.status_code == 200, r.text
        r = await client.patch(f"/api/v1/buyers/{w.buyer_id}", headers=w.sup, json={"deleted": True})
        assert r.status_code == 200, r.text
        # A change that opens nothing new (a new name) publishes no list.
        r = await client.patch(f"/api/v1/buyers/{dealer_buyer}", headers=w.sup, json={"name": "Dealer One LLC"})
        assert r.status_code == 200, r.text
        # A registered buyer joins the wholesale list by its link.
        token = (await client.post(f"/api/v1/price-lists/{w.price_list_id}/link", headers=w.sup)).json()["link_token"]
        newcomer = await register(client, "buyer", "Newcomer")
        assert (
            await client.post(f"/api/v1/links/{token}/join", headers=await sign_in(client, newcomer["email"]))
        ).status_code == 200

        # Six snapshots, not more: wait a little for a seventh that must not come.
        events = await read_events(kafka, PRICE_LIST_UPDATED, 7, timeout=6)
        seen: dict[str, list[tuple[int | None, list[str]]]] = {}
        for e in events:  # each list's events in order (a list's events share a key, so a partition)
            assert isinstance(e, PriceListUpdatedV1)
            seen.setdefault(e.aggregate_id, []).append((e.sequence, sorted(str(a) for a in e.data.buyer_account_ids)))
        buyer_llc, d, n = w.buyer_account["account_id"], dealer["account_id"], newcomer["account_id"]
        assert seen == {
            w.price_list_id: [
                (1, [buyer_llc]),  # created, open to Buyer LLC's record
                (2, []),  # Buyer LLC's record deleted
                (3, [n]),  # the newcomer joined by link
            ],
            dealers_pl: [
                (1, []),  # created: no buyer in the segment yet
                (2, [d]),  # the dealer's buyer record joins the segment
                (3, []),  # the dealer left the segment
            ],
        }, seen
        # The events carry the whole list each time.
        last = [e for e in events if e.aggregate_id == w.price_list_id][-1]
        assert isinstance(last, PriceListUpdatedV1) and [i.sku for i in last.data.items] == ["A-1", "B-2", "C-3"]
