"""Orders handed in as JSON-like dicts (the API's bulk call, a spreadsheet, the admin's form):
each checked on its own, grouped by channel and added through orders.manual, one result each."""

from __future__ import annotations

from rest_framework import serializers

from api.serializers import OrderIn, to_remote
from channels.models import Channel
from orders import manual


def manual_channel(name: str | None) -> Channel:
    """The active manual channel of that name; with no name, the first one (made on first use)."""
    channels = manual.manual_channels()
    channel = channels.filter(name=name).first() if name else channels.order_by("pk").first()
    if channel is None and not name:
        channel = manual.default_channel()
    if channel is None:
        raise serializers.ValidationError({"channel": [f"No active manual / API channel is named “{name}”."]})
    return channel


def result_body(added: manual.Added) -> dict:
    body = {"external_id": added.external_id, "outcome": added.outcome}
    if added.order is not None:
        # Enough to find it again (GET /api/v1/orders/{id} has the rest): a thousand full orders
        # would cost a bulk call more than storing them.
        o = added.order
        body["order"] = {"id": o.pk, "order_number": o.order_number, "status": o.status}
    if added.outcome == "skipped":
        body["reason"], body["detail"] = added.reason, added.detail
    if added.outcome == "conflict":
        body["detail"] = "An order with this external id exists with other data; it was not changed."
    return body


def take_orders(items: list) -> list[dict]:
    """One result per item, in order: {"index", "external_id", "outcome", …} where outcome is
    created, exists, conflict, skipped (with reason and detail) or invalid (with errors)."""
    results: list[dict | None] = [None] * len(items)
    by_channel: dict[str, list[tuple[int, object]]] = {}
    seen: set[tuple[str, str]] = set()
    # One serializer checks every item, as DRF's ListSerializer does with its child: building a
    # serializer's fields costs more than checking an order, so they are built once, not per order.
    check = OrderIn()
    for index, item in enumerate(items):
        try:
            data = check.run_validation(item)
        except serializers.ValidationError as exc:
            ext = item.get("external_id") if isinstance(item, dict) else None
            results[index] = {
                "index": index,
                "external_id": ext,
                "outcome": "invalid",
                "errors": serializers.as_serializer_error(exc),
            }
            continue
        name = data.get("channel") or ""
        remote = to_remote(data)
        if (name, remote.external_id) in seen:
            results[index] = {
                "index": index,
                "external_id": remote.external_id,
                "outcome": "invalid",
                "errors": {"external_id": ["This external id appears earlier in the same request."]},
            }
            continue
        seen.add((name, remote.external_id))
        by_channel.setdefault(name, []).append((index, remote))
    for name, group in by_channel.items():
        try:
            channel = manual_channel(name or None)
        except serializers.ValidationError as exc:
            for index, remote in group:
                results[index] = {
                    "index": index,
                    "external_id": remote.external_id,
                    "outcome": "invalid",
                    "errors": exc.detail,
                }
            continue
        added = manual.add_orders(channel, [remote for _, remote in group])
        for (index, _remote), one in zip(group, added, strict=True):
            results[index] = {"index": index, **result_body(one)}
    return results
