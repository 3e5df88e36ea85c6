"""`make bench NAME=import`: the import pipeline against a bare bulk_create.

20,000 orders (2 lines each) as pages of the channel's own JSON (100 receipts a page, the
Etsy API's page size) go through the connector's parsing and orders.importing; in the same
process the same orders and lines are inserted with a bare bulk_create. Goal: pipeline time /
bare time <= 3, the same number of queries for a page of 10 and a page of 100, and a replay of
the same pages at least as fast as the first import while changing nothing. A second line gives
the end-to-end rate over HTTP against the sandbox (for information)."""

from __future__ import annotations

import os
import random
import tempfile
import threading

from bench.common import report, rss_mb, setup_django, timed

ORDERS = int(os.environ.get("BENCH_IMPORT_ORDERS", 20_000))
HTTP_ORDERS = int(os.environ.get("BENCH_IMPORT_HTTP_ORDERS", 2_000))
PAGE = 100


class MemoryStore:
    """Stands in for a SandboxStore when building JSON in memory (ids only)."""

    _listings_ready = True

    def __init__(self):
        self.counter = 0

    def next_id(self):
        self.counter += 1
        return self.counter


class ReplayHttp:
    """Hands the connector pages it already fetched, in order (no network in the timed part)."""

    def __init__(self, pages):
        self.pages = list(pages)
        self.calls = 0

    def json(self, method, url, **kwargs):
        self.calls += 1
        return self.pages.pop(0)


def build_pages(n: int) -> list[dict]:
    from sandbox.generators import etsy

    rng = random.Random(7)
    store = MemoryStore()
    physical = [c for c in etsy.CATALOGUE if not c[6]]
    receipts = []
    for _ in range(n):
        r = etsy.make_receipt(store, kind="ok", rng=rng)
        # exactly two physical lines per order
        base = r["transactions"][0]
        r["transactions"] = [dict(base, transaction_id=base["transaction_id"] * 10 + i, listing_id=physical[i][0], listing_image_id=physical[i][0] + 2000,
                                  is_digital=False) for i in range(2)]
        receipts.append(r)
    return [{"count": n, "results": receipts[i:i + PAGE]} for i in range(0, n, PAGE)]


def run():
    db_file = tempfile.NamedTemporaryFile(suffix=".sqlite3", delete=False).name
    setup_django(os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{db_file}")
    from django.core.management import call_command
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from channels.connectors.etsy import EtsyConnector
    from channels.models import Channel
    from orders.importing import SyncSummary, import_orders, import_page, order_values
    from orders.models import Order, OrderEvent, OrderLine, RemoteProductCache

    call_command("migrate", verbosity=0)
    pages = build_pages(ORDERS)
    now = timezone.now()

    def channel(name):
        ch = Channel.objects.create(name=name, kind="etsy", api_base_url="http://replay.invalid/v3", shop_id="1",
                                    import_window_days=30)
        RemoteProductCache.objects.bulk_create([
            RemoteProductCache(channel=ch, key=f"listing:{lid}", data={"weight_g": 400}) for lid in range(5001, 5007)
        ] + [RemoteProductCache(channel=ch, key=f"image:{lid}:{lid + 2000}", data={"image_url": "https://x/y.jpg"})
             for lid in range(5001, 5007)])
        return ch

    def pipeline(ch):
        connector = EtsyConnector(base_url=ch.api_base_url, credentials={}, shop_id="1",
                                  http=ReplayHttp([dict(p) for p in pages]))
        ch.cursor = {}
        return import_orders(ch, connector=connector, now=now)

    # 1. the pipeline
    ours = channel("bench-pipeline")
    with timed() as t_pipeline:
        summary = pipeline(ours)
    assert summary.imported == ORDERS, summary

    # 2. the bare bulk_create of the same rows (parsing excluded: it is the connector's job)
    from channels.connectors.etsy import parse_receipt

    parsed = [parse_receipt(r) for p in pages for r in p["results"]]
    bare = channel("bench-bare")
    with timed() as t_bare:
        for i in range(0, len(parsed), PAGE):
            chunk = parsed[i:i + PAGE]
            orders = [Order(channel=bare, external_id=r.external_id, **order_values(r)) for r in chunk]
            for o in orders:
                o.fill_normal_forms()
            Order.objects.bulk_create(orders)
            OrderLine.objects.bulk_create([
                OrderLine(order=o, external_id=ln.external_id, sku=ln.sku, title=ln.title, quantity=ln.quantity,
                          unit_price=ln.unit_price, options=ln.options) for o, r in zip(orders, chunk) for ln in r.lines
            ])

    # 3. replay: same pages again, nothing may change
    counts = (Order.objects.count(), OrderLine.objects.count(), OrderEvent.objects.count())
    with timed() as t_replay:
        again = pipeline(ours)
    assert again.imported == 0 and again.updated == 0, again
    assert counts == (Order.objects.count(), OrderLine.objects.count(), OrderEvent.objects.count())

    # 4. queries per page, for a page of 10 and a page of 100 new orders
    def queries_for(size):
        ch = channel(f"bench-q{size}")
        store = MemoryStore()
        store.counter = 10**7 + size * 1000
        from channels.connectors.base import Page
        from sandbox.generators import etsy

        rng = random.Random(size)
        remotes = [parse_receipt(etsy.make_receipt(store, kind="ok", rng=rng)) for _ in range(size)]
        reset_queries()
        with CaptureQueriesContext(connection) as ctx:
            import_page(ch, Page(orders=remotes, cursor={}), summary=SyncSummary(), now=now)
        return len(ctx.captured_queries)

    q10, q100 = queries_for(10), queries_for(100)

    rate = ORDERS / t_pipeline["seconds"]
    bare_rate = ORDERS / t_bare["seconds"]
    ratio = t_pipeline["seconds"] / t_bare["seconds"]
    report(
        "import", value=rate, unit="orders/s", baseline=bare_rate, ratio=ratio,
        goal="ratio <= 3; constant queries per page; replay no slower", peak_mb=rss_mb(),
        sentence=(f"Imported {ORDERS} Etsy orders (2 lines each) at {rate:,.0f} orders/s against {bare_rate:,.0f} "
                  f"for a bare bulk_create: ratio {ratio:.2f} (goal <= 3). Queries per page: {q10} for 10 orders, "
                  f"{q100} for 100. Replay: {ORDERS / t_replay['seconds']:,.0f} orders/s, nothing changed "
                  f"({'at least as fast' if t_replay['seconds'] <= t_pipeline['seconds'] else 'SLOWER'})."),
        queries_per_page_10=q10, queries_per_page_100=q100, replay_seconds=round(t_replay["seconds"], 2),
        database=connection.vendor,
    )
    http_rate(channel)


def http_rate(make_channel):
    """End to end over HTTP: the sandbox Etsy API served by a live server thread, for information."""
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
    from django.core.wsgi import get_wsgi_application
    from django.db import connection

    from orders.models import Order
    from orders.tasks import run_sync
    from sandbox.generators import etsy
    from sandbox.stores import store_for_channel

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    server = ThreadedWSGIServer(("127.0.0.1", 0), Quiet)
    server.set_app(get_wsgi_application())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    ch = make_channel("bench-http")
    ch.api_base_url = f"http://127.0.0.1:{port}/sandbox/etsy/v3/application"
    ch.shop_id = "77"
    ch.credentials = {"keystring": "k", "shared_secret": "s", "access_token": "t"}
    ch.save()
    store = store_for_channel(ch)
    etsy.generate(store, HTTP_ORDERS, mix=False, seed=5)
    with timed() as t:
        summary = run_sync(ch)
    server.shutdown()
    imported = Order.objects.filter(channel=ch).count()
    rate = imported / t["seconds"]
    report(
        "import_http", value=rate, unit="orders/s", baseline=0, ratio=0, goal="information only",
        peak_mb=rss_mb(),
        sentence=(f"End to end over HTTP against the sandbox: {imported} orders in {t['seconds']:.1f} s "
                  f"({rate:,.0f} orders/s, {summary.pages} pages){'; errors: ' + str(summary.errors) if summary.errors else ''}."),
        database=connection.vendor,
    )
