"""/api/v1/: the REST API's routes (mounted by config/urls.py)."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.authentication import SessionAuthentication

from api import views
from api.auth import ApiKeyAuthentication, StaffOrKey

schema_options = {
    "authentication_classes": [ApiKeyAuthentication, SessionAuthentication],
    "permission_classes": [StaffOrKey],
}

urlpatterns = [
    path("orders", views.OrderList.as_view(), name="api-orders"),
    path("orders/bulk", views.OrderBulk.as_view(), name="api-orders-bulk"),
    path("orders/<int:pk>", views.OrderDetail.as_view(), name="api-order"),
    path("orders/<int:pk>/shipments", views.OrderShipments.as_view(), name="api-order-shipments"),
    path("orders/<int:pk>/rates", views.OrderRates.as_view(), name="api-order-rates"),
    path("shipments/<int:pk>", views.ShipmentDetail.as_view(), name="api-shipment"),
    path("shipments/<int:pk>/cancel", views.ShipmentCancel.as_view(), name="api-shipment-cancel"),
    path("shipments/<int:pk>/label", views.ShipmentLabel.as_view(), name="api-shipment-label"),
    path("returns", views.ReturnList.as_view(), name="api-returns"),
    path("returns/<int:pk>", views.ReturnDetail.as_view(), name="api-return"),
    path("returns/<int:pk>/approve", views.ReturnApprove.as_view(), name="api-return-approve"),
    path("returns/<int:pk>/reject", views.ReturnReject.as_view(), name="api-return-reject"),
    path("returns/<int:pk>/receive", views.ReturnReceive.as_view(), name="api-return-receive"),
    path("returns/<int:pk>/refund", views.ReturnRefund.as_view(), name="api-return-refund"),
    # The schema and its interactive page: staff signed in to the admin (or any API key).
    path("schema/", SpectacularAPIView.as_view(**schema_options), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema", **schema_options), name="api-docs"),
]
