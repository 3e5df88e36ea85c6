"""Requests no page is written for, answered before any view runs.

A NUL byte in a URL reaches PostgreSQL as a query parameter and fails there ("A string literal
cannot contain NUL characters"), which Django reports as a 500. No Shipdesk URL, search, filter
or form field ever needs a control character, so such a request is answered plainly: 404 for a
path (no page has that address), 400 for a query string or a form post, before it reaches a
view. (Only url-encoded forms are read here: reading a multipart body in a middleware would take
it from the view.)"""

from __future__ import annotations

import re

from django.http import HttpResponseBadRequest, HttpResponseNotFound

# C0 controls and DEL. Tab, LF and CR are allowed in query values (a pasted search may hold them).
_PATH_CONTROLS = re.compile(r"[\x00-\x1f\x7f]")
_QUERY_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class RejectControlCharactersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if _PATH_CONTROLS.search(request.path):
            return HttpResponseNotFound("Not found.", content_type="text/plain; charset=utf-8")
        if request.META.get("QUERY_STRING") and any(
            _QUERY_CONTROLS.search(key) or any(_QUERY_CONTROLS.search(v) for v in values)
            for key, values in request.GET.lists()
        ):
            return HttpResponseBadRequest(
                "The address holds control characters; remove them and try again.",
                content_type="text/plain; charset=utf-8",
            )
        if (
            request.method == "POST"
            and request.content_type == "application/x-www-form-urlencoded"
            and any(
                _QUERY_CONTROLS.search(key) or any(_QUERY_CONTROLS.search(v) for v in values)
                for key, values in request.POST.lists()
            )
        ):
            return HttpResponseBadRequest(
                "The form holds control characters; remove them and try again.",
                content_type="text/plain; charset=utf-8",
            )
        return self.get_response(request)
