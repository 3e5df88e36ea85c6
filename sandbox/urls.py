"""Each stand-in API under /sandbox/<kind>/… with the real API's paths below it."""

from django.urls import include, path

from sandbox import etsy, images

etsy_base = "etsy/v3/application/"
urlpatterns = [
    path(etsy_base + "shops/<int:shop_id>/receipts", etsy.receipts),
    path(etsy_base + "shops/<int:shop_id>/receipts/<int:receipt_id>", etsy.receipt),
    path(etsy_base + "shops/<int:shop_id>/receipts/<int:receipt_id>/tracking", etsy.tracking),
    path(etsy_base + "listings/<int:listing_id>", etsy.listing),
    path(etsy_base + "listings/<int:listing_id>/images/<int:image_id>", etsy.listing_image),
    path(etsy_base + "shipping-carriers", etsy.shipping_carriers),
    path("etsy/v3/public/oauth/token", etsy.token),
    path("etsy/images/<int:listing_id>/<int:image_id>/<str:size>", etsy.image_file),
    path("images/<str:kind>/<path:key>", images.image, name="sandbox-image"),
]

# One module per stand-in, each with its own `urlpatterns`; a module that does not exist yet is skipped.
for prefix, module in [
    ("shopify/", "sandbox.shopify"),
    ("ecwid/", "sandbox.ecwid"),
    ("ebay/", "sandbox.ebay"),
    ("amazon/", "sandbox.amazon"),
    ("sendcloud/", "sandbox.sendcloud"),
    ("stripe/", "sandbox.stripe"),
    ("paypal/", "sandbox.paypal"),
    ("supplier/", "sandbox.supplier"),
    ("webhooks/", "sandbox.webhooks"),
    ("ups/", "sandbox.ups"),
    ("mydhl/", "sandbox.mydhl"),
    ("canadapost/", "sandbox.canadapost"),
]:
    try:
        urlpatterns.append(path(prefix, include(module)))
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
