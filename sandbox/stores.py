"""Find or create the sandbox account behind a Shipdesk channel."""

from __future__ import annotations

from sandbox.models import SandboxStore


def store_for_channel(channel) -> SandboxStore:
    store, _ = SandboxStore.objects.get_or_create(kind=channel.kind, key=channel.shop_id or channel.name)
    if store.credentials != channel.credentials:
        store.credentials = channel.credentials
        store.save(update_fields=["credentials"])
    return store
