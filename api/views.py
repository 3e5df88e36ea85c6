"""/api/v1/ endpoints. Thin: validate, call the services the admin calls, answer. Every call
that changes something runs `acting_via` its key, so the order's timeline names the key."""

from __future__ import annotations

from contextlib import contextmanager

from django.conf import settings
from django.db.models import Prefetch
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from api import idempotency
from api.filters import OrderFilter, ReturnFilter
from api.intake import manual_channel, result_body, take_orders
from api.models import ApiKey, Scope
from api.pagination import Cursor
from api.serializers import (
    BookIn,
    BulkIn,
    BulkOut,
    CancelOut,
    OrderDetailOut,
    OrderIn,
    OrderOut,
    RatesIn,
    RatesOut,
    RefundIn,
    RejectIn,
    ReturnOut,
    ShipmentOut,
    to_remote,
)
from orders import manual
from orders.attribution import acting_via
from orders.lines import InvalidLines, check_lines, default_lines
from orders.models import Order, OrderEvent
from returns import services as returns_services
from returns.models import ReturnRequest
from shipping import quoting
from shipping.booking import BookingError, book_shipment, cancel_shipment
from shipping.models import CarrierAccount, Shipment

IDEMPOTENCY_HEADER = OpenApiParameter(
    idempotency.HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="Any unique string: a retry with the same key and body answers the first result; "
    "the same key with another body is refused with 422.",
)


@contextmanager
def attributed(key: ApiKey):
    with acting_via(f"API key “{key.name}”", api_key=key.name, api_key_id=key.pk):
        yield


# ---------------------------------------------------------------------------------------------
# Orders


class OrderList(generics.ListAPIView):
    """Orders, newest change first, filtered by status, channel and `updated_since`."""

    scopes = {"GET": Scope.ORDERS_READ, "POST": Scope.ORDERS_WRITE}
    serializer_class = OrderOut
    filterset_class = OrderFilter
    pagination_class = Cursor
    queryset = Order.objects.select_related("channel")

    @extend_schema(
        request=OrderIn,
        parameters=[IDEMPOTENCY_HEADER],
        responses={
            201: OrderDetailOut,
            200: OpenApiResponse(OrderDetailOut, description="The same order was sent before"),
            400: OpenApiResponse(description="Field-by-field errors"),
            409: OpenApiResponse(description="The external id is taken by an order with other data"),
            422: OpenApiResponse(
                description="Not importable (reason as Skipped orders says), or a reused key"
            ),
        },
        summary="Create an order on a manual / API channel",
    )
    def post(self, request):
        return idempotency.run(request, "orders.create", lambda: self._create(request))

    def _create(self, request) -> Response:
        incoming = OrderIn(data=request.data)
        incoming.is_valid(raise_exception=True)
        channel = manual_channel(incoming.validated_data.get("channel"))
        with attributed(request.auth):
            [added] = manual.add_orders(channel, [to_remote(incoming.validated_data)])
        if added.outcome in ("created", "exists"):
            order = order_detail_queryset().get(pk=added.order.pk)
            code = status.HTTP_201_CREATED if added.outcome == "created" else status.HTTP_200_OK
            return Response(OrderDetailOut(order).data, status=code)
        body = result_body(added)
        code = (
            status.HTTP_409_CONFLICT if added.outcome == "conflict" else status.HTTP_422_UNPROCESSABLE_ENTITY
        )
        return Response(body, status=code)


class OrderBulk(APIView):
    scopes = {"POST": Scope.ORDERS_WRITE}

    @extend_schema(
        request=BulkIn,
        parameters=[IDEMPOTENCY_HEADER],
        responses={200: BulkOut},
        summary="Create up to API_BULK_MAX_ORDERS (1,000) orders, with one result per order",
    )
    def post(self, request):
        return idempotency.run(request, "orders.bulk", lambda: self._bulk(request))

    def _bulk(self, request) -> Response:
        envelope = BulkIn(data=request.data)
        envelope.is_valid(raise_exception=True)
        raw = envelope.validated_data["orders"]
        limit = settings.API_BULK_MAX_ORDERS
        if len(raw) > limit:
            raise serializers.ValidationError(
                {"orders": [f"At most {limit} orders per call; this one has {len(raw)}."]}
            )
        with attributed(request.auth):
            results = take_orders(raw)
        created = sum(1 for r in results if r and r["outcome"] == "created")
        return Response({"created": created, "results": results})


def order_detail_queryset():
    return Order.objects.select_related("channel").prefetch_related(
        "lines",
        "fulfilments",
        Prefetch(
            "shipments",
            queryset=Shipment.objects.select_related("carrier_account").prefetch_related("lines__order_line"),
        ),
        Prefetch("events", queryset=OrderEvent.objects.order_by("created_at", "id")),
    )


class OrderDetail(generics.RetrieveAPIView):
    """One order with its lines, shipments, fulfilments and timeline."""

    scopes = {"GET": Scope.ORDERS_READ}
    serializer_class = OrderDetailOut

    def get_queryset(self):
        return order_detail_queryset()


# ---------------------------------------------------------------------------------------------
# Shipments


class OrderShipments(APIView):
    scopes = {"POST": Scope.SHIPMENTS_WRITE}

    @extend_schema(
        request=BookIn,
        parameters=[IDEMPOTENCY_HEADER],
        responses={
            201: ShipmentOut,
            422: OpenApiResponse(description="The booking was refused: detail says why"),
        },
        summary="Book a shipment for chosen lines of an order (as the admin's Book shipment)",
    )
    def post(self, request, pk: int):
        return idempotency.run(request, f"orders.{pk}.book", lambda: self._book(request, pk))

    def _book(self, request, pk: int) -> Response:
        order = get_object_or_404(Order.objects.select_related("channel"), pk=pk)
        incoming = BookIn(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        account = None
        if data.get("carrier_account") is not None:
            account = CarrierAccount.objects.filter(pk=data["carrier_account"]).first()
            if account is None:
                raise serializers.ValidationError({"carrier_account": ["No carrier account has this id."]})
        lines = [(item["line"], item["quantity"]) for item in data["lines"]] if data.get("lines") else None
        service, quote = data["service"], None
        if data.get("rate"):
            account, service, quote = _chosen_rate(order, data["rate"], lines, data["weight_g"])
        with attributed(request.auth):
            shipment = book_shipment(
                order=order,
                carrier_account=account,
                quote=quote,
                service=service,
                weight_g=data["weight_g"],
                lines=lines,
                note=data["note"],
                tracking_company=data["tracking_company"].strip(),
                label_size=data["label_size"],
            )
        return Response(
            ShipmentOut(shipment_queryset().get(pk=shipment.pk)).data, status=status.HTTP_201_CREATED
        )


def _parcel_lines(order: Order, lines) -> list:
    """The (OrderLine, quantity) pairs of a parcel: the lines given, checked, or the default."""
    try:
        return check_lines(order, lines, open_only=True) if lines else default_lines(order)
    except InvalidLines as exc:
        raise BookingError(str(exc)) from exc


def _chosen_rate(order: Order, rate_id: str, lines, weight_g):
    """(account, service, quote): the rate named by its id, asked again of its carrier now."""
    account_id, _, service = rate_id.partition("|")
    account = CarrierAccount.objects.filter(pk=int(account_id), is_active=True).first()
    if account is None:
        raise serializers.ValidationError({"rate": ["No active carrier account has this id."]})
    picked = _parcel_lines(order, lines)
    if not picked:
        raise BookingError(f"{order}: nothing left to ship")
    return (
        account,
        service,
        quoting.requote(order, picked, account=account, service=service, weight_g=weight_g),
    )


class OrderRates(APIView):
    """Every active carrier account's rates for a parcel of the chosen lines, asked concurrently
    with a time limit per carrier, as the admin's booking form shows them."""

    scopes = {"POST": Scope.SHIPMENTS_READ}

    @extend_schema(
        request=RatesIn,
        responses={200: RatesOut, 422: OpenApiResponse(description="No parcel can be made: detail says why")},
        summary="Rates side by side for chosen lines of an order (pass a rate's id when booking)",
    )
    def post(self, request, pk: int):
        order = get_object_or_404(Order.objects.select_related("channel"), pk=pk)
        incoming = RatesIn(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        lines = [(item["line"], item["quantity"]) for item in data["lines"]] if data.get("lines") else None
        picked = _parcel_lines(order, lines)
        if not picked:
            raise BookingError(f"{order}: nothing left to ship")
        result = quoting.quote(order, picked, weight_g=data["weight_g"])
        if result.shop is None:
            raise BookingError(result.problem)
        return Response(
            RatesOut(
                {
                    "rates": result.shop.rates,
                    "errors": result.shop.errors,
                    "customs_declaration": result.needs_customs,
                    "customs_missing": [str(m) for m in result.missing],
                }
            ).data
        )


def shipment_queryset():
    return Shipment.objects.select_related("carrier_account").prefetch_related("lines__order_line")


class ShipmentDetail(generics.RetrieveAPIView):
    scopes = {"GET": Scope.SHIPMENTS_READ}
    serializer_class = ShipmentOut

    def get_queryset(self):
        return shipment_queryset()


class ShipmentCancel(APIView):
    scopes = {"POST": Scope.SHIPMENTS_WRITE}

    @extend_schema(
        request=None,
        responses={200: CancelOut, 422: OpenApiResponse(description="The carrier refused: detail says why")},
        summary="Cancel a shipment's label (before pickup)",
    )
    def post(self, request, pk: int):
        shipment = get_object_or_404(
            Shipment.objects.select_related("order__channel", "carrier_account"), pk=pk
        )
        with attributed(request.auth):
            message = cancel_shipment(shipment)
        return Response({"message": message, "shipment": ShipmentOut(shipment_queryset().get(pk=pk)).data})


class ShipmentLabel(APIView):
    scopes = {"GET": Scope.SHIPMENTS_READ}

    @extend_schema(
        responses={
            (200, "application/pdf"): OpenApiTypes.BINARY,
            404: OpenApiResponse(description="No label"),
        },
        summary="Download a shipment's label (PDF)",
    )
    def get(self, request, pk: int):
        shipment = get_object_or_404(Shipment, pk=pk)
        if not shipment.label:
            raise Http404("No label")
        return FileResponse(
            shipment.label.open("rb"),
            content_type="application/pdf",
            filename=f"label-{shipment.tracking_number}.pdf",
        )


# ---------------------------------------------------------------------------------------------
# Returns


class ReturnCursor(Cursor):
    ordering = ("-created_at", "-id")


def return_queryset():
    return ReturnRequest.objects.select_related("brand").prefetch_related("lines__order_line")


class ReturnList(generics.ListAPIView):
    scopes = {"GET": Scope.RETURNS_READ}
    serializer_class = ReturnOut
    filterset_class = ReturnFilter
    pagination_class = ReturnCursor

    def get_queryset(self):
        return return_queryset()


class ReturnDetail(generics.RetrieveAPIView):
    scopes = {"GET": Scope.RETURNS_READ}
    serializer_class = ReturnOut

    def get_queryset(self):
        return return_queryset()


class ReturnAction(APIView):
    """approve, reject (with a reason), receive, refund (an amount, default the items' value less
    the label fee): the same services as the admin's buttons."""

    scopes = {"POST": Scope.RETURNS_WRITE}
    action = ""

    def post(self, request, pk: int):
        ret = get_object_or_404(ReturnRequest.objects.select_related("order"), pk=pk)
        with attributed(request.auth):
            self.act(request, ret)
        return Response(ReturnOut(return_queryset().get(pk=pk)).data)

    def act(self, request, ret):
        raise NotImplementedError


def _return_action(name: str, do, request_serializer=None):
    @extend_schema(
        request=request_serializer,
        responses={
            200: ReturnOut,
            422: OpenApiResponse(description="Not allowed in its state: detail says why"),
        },
        summary=f"{name.capitalize()} a return",
    )
    def post(self, request, pk: int):
        return ReturnAction.post(self, request, pk)

    def act(self, request, ret):
        data = {}
        if request_serializer is not None:
            incoming = request_serializer(data=request.data)
            incoming.is_valid(raise_exception=True)
            data = incoming.validated_data
        do(ret, data)

    return type(f"Return{name.capitalize()}", (ReturnAction,), {"post": post, "act": act, "action": name})


ReturnApprove = _return_action("approve", lambda ret, data: returns_services.approve(ret))
ReturnReject = _return_action(
    "reject", lambda ret, data: returns_services.reject(ret, reason=data["reason"]), RejectIn
)
ReturnReceive = _return_action("receive", lambda ret, data: returns_services.receive(ret))
ReturnRefund = _return_action(
    "refund", lambda ret, data: returns_services.refund(ret, amount=data["amount"]), RefundIn
)
