from django.urls import path

from sandbox import etsy

etsy_base = "etsy/v3/application/"
urlpatterns = [
    path(etsy_base + "shops/<int:shop_id>/receipts", etsy.receipts),
    path(etsy_base + "shops/<int:shop_id>/receipts/<int:receipt_id>", etsy.receipt),
    path(etsy_base + "shops/<int:shop_id>/receipts/<int:receipt_id>/tracking", etsy.tracking),
    path(etsy_base + "listings/<int:listing_id>", etsy.listing),
    path(etsy_base + "listings/<int:listing_id>/images/<int:image_id>", etsy.listing_image),
    path(etsy_base + "shipping-carriers", etsy.shipping_carriers),
]
