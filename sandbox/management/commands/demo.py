import os

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from channels.models import Channel
from sandbox import generators
from sandbox.models import SandboxOrder
from sandbox.stores import store_for_channel
from shipping.models import Address, Brand, CarrierAccount

DEMO_CHANNELS = [
    # name, kind, path under /sandbox/, shop id, credentials
    ("Etsy-Main", "etsy", "etsy/v3/application", "10001",
     {"keystring": "demo-keystring", "shared_secret": "demo-secret", "access_token": "demo-token"}),
]


class Command(BaseCommand):
    help = "Load demo data: sandbox channels with orders, a brand, a carrier, and a superuser. Safe to run twice."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
        parser.add_argument("--orders", type=int, default=30, help="Sandbox orders per channel on the first run")
        parser.add_argument("--no-sync", action="store_true", help="Do not queue an immediate sync")

    def handle(self, *args, port, orders, no_sync, **options):
        base = f"http://127.0.0.1:{port}/sandbox/"
        warehouse, _ = Address.objects.get_or_create(
            label="Leeds warehouse",
            defaults={"name": "Northern Goods Ltd", "company": "Northern Goods", "line1": "Unit 4, Canal Wharf",
                      "city": "Leeds", "postal_code": "LS11 5PS", "country": "GB", "email": "ship@example.com",
                      "phone": "+44 113 496 0000"},
        )
        returns, _ = Address.objects.get_or_create(
            label="Leeds returns",
            defaults={"name": "Northern Goods Returns", "line1": "Unit 5, Canal Wharf", "city": "Leeds",
                      "postal_code": "LS11 5PS", "country": "GB", "email": "returns@example.com"},
        )
        Brand.objects.get_or_create(slug="northern-goods", defaults={
            "name": "Northern Goods", "sender_address": warehouse, "return_address": returns, "is_default": True})
        CarrierAccount.objects.get_or_create(name="Royal Mail (own account)", defaults={
            "kind": "selfprint", "default_service": "Tracked 48", "tracking_company": "Royal Mail", "prefix": "SD",
            "tracking_url_template": "https://www.royalmail.com/track-your-item#/tracking-results/{tracking_number}",
            "is_default": True})

        for name, kind, path, shop_id, creds in DEMO_CHANNELS:
            channel, created = Channel.objects.get_or_create(
                name=name, defaults={"kind": kind, "api_base_url": base + path, "shop_id": shop_id,
                                     "credentials": creds, "sync_interval_minutes": 1})
            if channel.api_base_url != base + path:  # the port changed since the last run
                channel.api_base_url = base + path
                channel.save(update_fields=["api_base_url"])
            store = store_for_channel(channel)
            existing = SandboxOrder.objects.filter(store=store).count()
            if existing == 0:
                generators.get(kind)(store, orders, mix=True)
                self.stdout.write(f"  {name}: {orders} sandbox orders created (about one in five will be skipped)")
            else:
                self.stdout.write(f"  {name}: sandbox already has {existing} orders")
            if not no_sync:
                from django_q.tasks import async_task

                async_task("orders.tasks.sync_channel", channel.pk, task_name=f"sync-{channel.pk}")

        User = get_user_model()
        username = os.environ.get("DEMO_USER", "admin")
        password = os.environ.get("DEMO_PASSWORD", "shipdesk-demo")
        user, _ = User.objects.get_or_create(username=username, defaults={"email": "admin@example.com"})
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        self.stdout.write(self.style.SUCCESS(
            f"\nShipdesk admin: http://127.0.0.1:{port}/admin/\nLogin: {username} / {password}\n"))
