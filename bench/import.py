"""`make bench NAME=import`: the import pipeline against a bare bulk_create, for every channel.

BENCH_IMPORT_ORDERS orders in all (20,000 by default, split evenly over Etsy, Shopify, eBay,
Amazon and Ecwid), 2 physical lines each, are made by each channel's sandbox generator and
stored in the sandbox. A sync over real HTTP against the sandbox (served by a server thread in
this process) records every answer the connector received, headers included; that sync's rate is
the end-to-end line, for information. Then, with no network in the timed part:

- the pipeline: the recorded answers are handed back to the channel's own connector (its page
  shape, Shopify's Link header, eBay's `next`, Amazon's extra v0 calls, Ecwid's items/total) and
  go through its parsing, `enrich` and `orders.importing`, on a fresh channel;
- the baseline: the same parsed orders and lines inserted with a bare bulk_create, a page at a
  time;
- the queries per page (through enrich_page + import_page) for a page of 10 new orders and a full
  page of the channel's size: the goal is the same number;
- a replay of the same answers: at least as fast as the first import, and it changes nothing.

Goal: pipeline time / bare time <= 3, per channel and in all. Beside each wall-time ratio the
line gives the ratio of CPU times (this process plus, on PostgreSQL, its server process:
bench.common.cpu_seconds), which a shared machine's load does not stretch."""

from __future__ import annotations

import logging
import os
import random
import time
from datetime import UTC, datetime

from bench.common import database_url, report, rss_mb, serve_in_thread, setup_django, timed

ORDERS = int(os.environ.get("BENCH_IMPORT_ORDERS", 20_000))
KINDS = [k for k in os.environ.get("BENCH_IMPORT_KINDS", "etsy,shopify,ebay,amazon,ecwid").split(",") if k]
SMALL_PAGE = 10


# -- making the orders


class CountingStore:
    """The generators number everything with `store.next_id()`, an UPDATE and a SELECT each;
    this hands out the same numbers from memory and delegates everything else to the store."""

    def __init__(self, store):
        self._store = store
        self.counter = store.counter
        self._listings_ready = True  # the Etsy generator's flag: ensure_listings ran already

    def __getattr__(self, name):
        return getattr(self._store, name)

    def next_id(self) -> int:
        self.counter += 1
        return self.counter


def _two_physical_lines(lines: list, physical, id_key: str, new_id) -> list:
    """Exactly two physical lines: the first two, or the first one twice under a new id."""
    kept = [dict(line) for line in lines if physical(line)][:2]
    if len(kept) == 1:
        kept.append({**kept[0], id_key: new_id(kept[0][id_key])})
    return kept


# Where each channel keeps its lines, what makes a line physical, and its id field.
LINE_SHAPES = {
    "etsy": ("transactions", lambda t: not t.get("is_digital"), "transaction_id"),
    "shopify": ("line_items", lambda li: li.get("requires_shipping", True), "id"),
    "ebay": ("lineItems", lambda li: not li.get("giftDetails"), "lineItemId"),
    "amazon": ("orderItems", lambda it: True, "orderItemId"),
    "ecwid": ("items", lambda it: it.get("isShippingRequired", True) and not it.get("digital"), "id"),
}


def fill_sandbox(kind: str, store, count: int, seed: int) -> None:
    """`count` importable orders with two physical lines each, in the channel's own JSON, stored in
    the sandbox the way the generator's `generate` stores them (in one transaction)."""
    import importlib

    from django.db import transaction

    gen = importlib.import_module(f"sandbox.generators.{kind}")
    for setup in ("ensure_listings", "ensure_products", "ensure_inventory", "ensure_catalog"):
        if hasattr(gen, setup):
            getattr(gen, setup)(store)
    ids = CountingStore(store)
    rng = random.Random(seed)
    key, physical, id_key = LINE_SHAPES[kind]

    def new_id(old):
        fresh = 900_000_000_000 + ids.next_id()
        return str(fresh) if isinstance(old, str) else fresh

    with transaction.atomic():
        for _ in range(count):
            order = (
                gen.make_order(ids, kind="ok", rng=rng) if kind != "etsy" else gen.make_receipt(ids, rng=rng)
            )
            order[key] = _two_physical_lines(order[key], physical, id_key, new_id)
            gen.add_order(store, order) if kind != "etsy" else gen.add_receipt(store, order)
        store.counter = ids.counter
        store.save(update_fields=["counter"])


# -- recording and replaying HTTP answers


def request_key(method: str, url: str, kwargs: dict) -> str:
    import requests

    prepared = requests.Request(
        method, url, params=kwargs.get("params"), data=kwargs.get("data"), json=kwargs.get("json")
    ).prepare()
    body = prepared.body.decode() if isinstance(prepared.body, bytes) else (prepared.body or "")
    return f"{method} {prepared.url} {body}"


def recording_client():
    """The real HttpClient on a session that keeps each answer (status, headers, body) under its
    request, refusals and 404s included."""
    import requests

    from channels.connectors.http import HttpClient

    class RecordingSession(requests.Session):
        answers: dict[str, tuple[int, dict, bytes]] = {}

        def request(self, method, url, **kwargs):
            response = super().request(method, url, **kwargs)
            self.answers[request_key(method, url, kwargs)] = (
                response.status_code,
                dict(response.headers),
                response.content,
            )
            return response

    session = RecordingSession()
    session.answers = {}
    return HttpClient(session=session)


class ReplaySession:
    """Stands in for the requests.Session under the real HttpClient, so the connector gets exactly
    what HttpClient gives it (a requests.Response with the recorded status, headers and body, the
    JSON decoded by HttpClient.json, errors raised as ConnectorError), answered from what a sync
    over HTTP received. No network in the timed part."""

    def __init__(self, answers: dict):
        self.answers = answers

    def request(self, method, url, **kwargs):
        import requests
        from requests.structures import CaseInsensitiveDict

        key = request_key(method, url, kwargs)
        try:
            status, headers, content = self.answers[key]
        except KeyError:
            raise RuntimeError(f"the replay has no answer for {key[:200]}") from None
        response = requests.Response()
        response.status_code, response._content, response.url = status, content, url
        response.headers, response.encoding = CaseInsensitiveDict(headers), "utf-8"
        return response


def ReplayHttp(answers: dict):  # noqa: N802 - reads as the class it builds
    from channels.connectors.http import HttpClient

    return HttpClient(session=ReplaySession(answers), max_retries=0)


# -- the benchmark


def channel_settings(kind: str, base: str) -> dict:
    """api_base_url, shop id and credentials the sandbox of `kind` accepts."""
    far = int(time.time()) + 86_400
    return {
        "etsy": dict(
            api_base_url=f"{base}/sandbox/etsy/v3/application",
            shop_id="77001",
            credentials={"keystring": "benchks", "shared_secret": "s", "access_token": "77.t"},
        ),
        "shopify": dict(
            api_base_url=f"{base}/sandbox/shopify/admin/api/2024-07",
            shop_id="bench.myshopify.com",
            credentials={"access_token": "shpat_bench"},
        ),
        "ebay": dict(
            api_base_url=f"{base}/sandbox/ebay/sell/fulfillment/v1",
            shop_id="",
            credentials={
                "client_id": "bench-id",
                "client_secret": "bench-secret",
                "refresh_token": "r",
                "access_token": "v^1.1#bench",
                "expires_at": far,
                "token_url": f"{base}/sandbox/ebay/identity/v1/oauth2/token",
            },
        ),
        "amazon": dict(
            api_base_url=f"{base}/sandbox/amazon",
            shop_id="A1F83G8C2ARO7P",
            credentials={
                "client_id": "amzn1.application-oa2-client.bench",
                "client_secret": "x",
                "refresh_token": "Atzr|bench",
                "access_token": "Atza|bench",
                "expires_at": far,
                "token_url": f"{base}/sandbox/amazon/auth/o2/token",
            },
        ),
        "ecwid": dict(
            api_base_url=f"{base}/sandbox/ecwid/api/v3",
            shop_id="770077",
            credentials={"access_token": "secret_bench"},
        ),
    }[kind]


def bench_channel(kind: str, count: int, base: str, now: datetime) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from channels.connectors import connector_class
    from channels.connectors.base import Page
    from channels.models import Channel
    from orders.importing import SyncSummary, enrich_page, import_orders, import_page, order_values
    from orders.models import Order, OrderEvent, OrderLine, RemoteProductCache
    from sandbox.stores import store_for_channel

    config = channel_settings(kind, base)

    def channel(role: str) -> Channel:
        return Channel.objects.create(name=f"bench-{kind}-{role}", kind=kind, import_window_days=30, **config)

    def connector(ch: Channel, http):
        return connector_class(kind)(
            base_url=ch.api_base_url, credentials=ch.credentials, shop_id=ch.shop_id, http=http
        )

    # 0. the sandbox's orders, and a sync over HTTP that records what the connector received
    over_http = channel("http")
    fill_sandbox(kind, store_for_channel(over_http), count, seed=KINDS.index(kind) + 7)
    recorder = recording_client()
    with timed() as t_http:
        summary = import_orders(over_http, connector=connector(over_http, recorder), now=now)
    assert summary.imported == count and not summary.skipped, (kind, summary)
    answers, http_calls = recorder.session.answers, recorder.calls

    # 1. the pipeline: the recorded answers through the connector and orders.importing
    ours = channel("pipeline")
    replay = ReplayHttp(answers)
    with timed() as t_pipeline:
        first = import_orders(ours, connector=connector(ours, replay), now=now)
    assert first.imported == count, (kind, first)
    pages = first.pages

    # 2. the bare bulk_create of the same orders and lines (parsing excluded: the connector's job)
    # (timed apart too: how much of the pipeline is the connector decoding and parsing JSON)
    with timed() as t_parse:
        parsed = [
            o
            for p in connector(ours, ReplayHttp(answers)).iter_pages({}, now=now, window_days=30)
            for o in p.orders
        ]
    page_size = len(parsed[:1]) and len(
        next(iter(connector(ours, ReplayHttp(answers)).iter_pages({}, now=now, window_days=30))).orders
    )
    bare = channel("bare")
    with timed() as t_bare:
        for i in range(0, len(parsed), page_size):
            chunk = parsed[i : i + page_size]
            orders = [Order(channel=bare, external_id=r.external_id, **order_values(r)) for r in chunk]
            for o in orders:
                o.fill_normal_forms()
            Order.objects.bulk_create(orders)
            OrderLine.objects.bulk_create(
                [
                    OrderLine(
                        order=o,
                        external_id=ln.external_id,
                        sku=ln.sku,
                        title=ln.title,
                        quantity=ln.quantity,
                        unit_price=ln.unit_price,
                        options=ln.options,
                    )
                    for o, r in zip(orders, chunk, strict=True)
                    for ln in r.lines
                ]
            )

    # 3. replay: the same answers again; nothing may change
    def state():
        return (
            Order.objects.filter(channel=ours).count(),
            OrderLine.objects.filter(order__channel=ours).count(),
            OrderEvent.objects.filter(order__channel=ours).count(),
            sorted(Order.objects.filter(channel=ours).values_list("payload_hash", flat=True)),
        )

    before = state()
    ours.cursor = {}
    with timed() as t_replay:
        again = import_orders(ours, connector=connector(ours, ReplayHttp(answers)), now=now)
    unchanged = again.imported == 0 and again.updated == 0 and state() == before

    # 4. queries for a page of 10 new orders and a full page, product facts already cached
    first_page = next(iter(connector(ours, ReplayHttp(answers)).iter_pages({}, now=now, window_days=30)))
    cache_rows = list(RemoteProductCache.objects.filter(channel=ours).values_list("key", "data"))

    def queries_for(size: int) -> int:
        ch = channel(f"q{size}")
        RemoteProductCache.objects.bulk_create(
            [RemoteProductCache(channel=ch, key=k, data=d) for k, d in cache_rows]
        )
        page = Page(orders=first_page.orders[:size], cursor={"bench": size})
        conn = connector(ch, ReplayHttp({}))  # every fact is cached: an HTTP call would fail loudly
        with CaptureQueriesContext(connection) as ctx:
            enrich_page(ch, conn, page)
            import_page(ch, page, summary=SyncSummary(), now=now)
        assert Order.objects.filter(channel=ch).count() == size
        return len(ctx.captured_queries)

    q_small, q_large = queries_for(SMALL_PAGE), queries_for(len(first_page.orders))
    return {
        "orders": count,
        "pages": pages,
        "page_size": page_size,
        "http_calls": http_calls,
        "replay_calls": replay.calls,
        "pipeline_seconds": round(t_pipeline["seconds"], 3),
        "bare_seconds": round(t_bare["seconds"], 3),
        "parse_seconds": round(t_parse["seconds"], 3),
        "replay_seconds": round(t_replay["seconds"], 3),
        "http_seconds": round(t_http["seconds"], 3),
        "rate": round(count / t_pipeline["seconds"], 1),
        "bare_rate": round(count / t_bare["seconds"], 1),
        "ratio": round(t_pipeline["seconds"] / t_bare["seconds"], 3),
        "pipeline_cpu_seconds": round(t_pipeline["cpu_seconds"], 3),
        "bare_cpu_seconds": round(t_bare["cpu_seconds"], 3),
        "cpu_ratio": round(t_pipeline["cpu_seconds"] / t_bare["cpu_seconds"], 3),
        "replay_rate": round(count / t_replay["seconds"], 1),
        "http_rate": round(count / t_http["seconds"], 1),
        "queries_small_page": q_small,
        "queries_large_page": q_large,
        "small_page": SMALL_PAGE,
        "large_page": len(first_page.orders),
        "replay_unchanged": unchanged,
        "replay_no_slower": t_replay["seconds"] <= t_pipeline["seconds"],
    }


def run():
    setup_django(database_url("import"))
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    # This benchmark times the import pipeline, not the channels' rate limits (bench/sync.py does):
    # both the sandbox's buckets and the connectors' shared budgets are made practically endless.
    from django.conf import settings

    settings.SANDBOX_TIME_SCALE = settings.RATE_LIMIT_TIME_SCALE = 1e6
    server, base = serve_in_thread()  # (its get_wsgi_application() configures logging again: quiet it after)
    # The sandbox answers 404 for products it lacks (the connectors remember them as missing):
    # expected here, so Django's "Not Found" warnings stay out of the benchmark's output.
    logging.getLogger("django.request").setLevel(logging.ERROR)
    now = datetime.now(tz=UTC)
    per_channel = ORDERS // len(KINDS)
    results = {}
    try:
        for kind in KINDS:
            results[kind] = r = bench_channel(kind, per_channel, base, now)
            print(
                f"  {kind:8} {r['orders']} orders in {r['pages']} pages of {r['page_size']}: pipeline "
                f"{r['rate']:,.0f}/s, bare {r['bare_rate']:,.0f}/s, ratio {r['ratio']:.2f} (CPU time "
                f"{r['cpu_ratio']:.2f}); queries per page "
                f"{r['queries_small_page']} ({SMALL_PAGE} orders) / {r['queries_large_page']} "
                f"({r['large_page']}); replay {r['replay_rate']:,.0f}/s "
                f"({'no slower' if r['replay_no_slower'] else 'SLOWER'}), "
                f"{'changed nothing' if r['replay_unchanged'] else 'CHANGED ROWS'}; parsing alone "
                f"{r['parse_seconds']:.2f} s of {r['pipeline_seconds']:.2f} s; over HTTP {r['http_rate']:,.0f}/s",
                flush=True,
            )
    finally:
        server.shutdown()

    total = per_channel * len(KINDS)
    pipeline = sum(r["pipeline_seconds"] for r in results.values())
    bare = sum(r["bare_seconds"] for r in results.values())
    replay = sum(r["replay_seconds"] for r in results.values())
    http = sum(r["http_seconds"] for r in results.values())
    ratio = pipeline / bare
    cpu_ratio = sum(r["pipeline_cpu_seconds"] for r in results.values()) / sum(
        r["bare_cpu_seconds"] for r in results.values()
    )
    constant = all(r["queries_small_page"] == r["queries_large_page"] for r in results.values())
    unchanged = all(r["replay_unchanged"] for r in results.values())
    no_slower = all(r["replay_no_slower"] for r in results.values())
    worst = max(results, key=lambda k: results[k]["ratio"])
    queries = ", ".join(
        f"{k} {r['queries_small_page']}/{r['queries_large_page']}" for k, r in results.items()
    )
    report(
        "import",
        value=total / pipeline,
        unit="orders/s",
        baseline=total / bare,
        ratio=ratio,
        goal="ratio <= 3; constant queries per page; replay no slower",
        peak_mb=rss_mb(),
        sentence=(
            f"Imported {total} orders (2 lines each; {per_channel} per channel from its own JSON) at "
            f"{total / pipeline:,.0f} orders/s against {total / bare:,.0f} for a bare bulk_create: ratio "
            f"{ratio:.2f} (goal <= 3; worst {worst} {results[worst]['ratio']:.2f}; in CPU time, which load "
            f"does not stretch, {cpu_ratio:.2f}). Queries per page "
            f"({SMALL_PAGE} / full page): {queries} ({'constant' if constant else 'NOT constant'}). Replay: "
            f"{total / replay:,.0f} orders/s, {'nothing changed' if unchanged else 'ROWS CHANGED'} "
            f"({'each channel at least as fast' if no_slower else 'SLOWER for some channel'})."
        ),
        orders=total,
        cpu_ratio=round(cpu_ratio, 3),
        replay_seconds=round(replay, 2),
        queries_constant=constant,
        replay_unchanged=unchanged,
        replay_no_slower=no_slower,
        goal_met=ratio <= 3
        and constant
        and unchanged
        and no_slower
        and all(r["ratio"] <= 3 for r in results.values()),
        channels=results,
    )
    report(
        "import_http",
        value=total / http,
        unit="orders/s",
        baseline=0,
        ratio=0,
        goal="information only",
        peak_mb=rss_mb(),
        sentence=(
            f"End to end over HTTP against the sandbox: {total} orders in {http:.1f} s ({total / http:,.0f} "
            f"orders/s; " + ", ".join(f"{k} {r['http_rate']:,.0f}/s" for k, r in results.items()) + ")."
        ),
        channels={
            k: {"http_rate": r["http_rate"], "http_calls": r["http_calls"]} for k, r in results.items()
        },
    )
