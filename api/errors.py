"""Errors as JSON: DRF's own for validation ({"field": ["message"]}, nested for lines), and
Shipdesk's domain refusals (a booking the carrier or the rules refuse, a return in the wrong
state) as 422 with {"detail": "..."}."""

from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from orders.lines import InvalidLines
from orders.services import InvalidTransition
from returns.services import ReturnError
from shipping.booking import BookingError

DOMAIN_ERRORS = (BookingError, ReturnError, InvalidLines, InvalidTransition)


def exception_handler(exc, context):
    if isinstance(exc, DOMAIN_ERRORS):
        return Response({"detail": str(exc)}, status=status.HTTP_422_UNPROCESSABLE_ENTITY)
    return drf_exception_handler(exc, context)
