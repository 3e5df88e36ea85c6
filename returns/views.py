"""The public returns portal: look up, choose items, confirm, label. Server-rendered and
usable without JavaScript; each view checks the portal session and calls services."""

from __future__ import annotations

import mimetypes
from functools import wraps

from django.conf import settings
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import get_language
from django.views.decorators.http import require_http_methods

from orders.models import Order
from returns import eligibility, portal_session, ratelimit, services, theme
from returns import lookup as order_lookup
from returns.forms import ItemsForm, LinkForm, LookupForm
from returns.models import ReturnRequest
from returns.portal_session import PortalSession
from shipping.models import Brand

TYPED_COOKIE = "returns_typed"  # the order number of a failed lookup, to fill the form again


class SeeOther(HttpResponseRedirect):
    status_code = 303  # after a POST, the browser fetches the next page with GET


def _brand(slug: str | None) -> Brand:
    brands = Brand.objects.select_related("return_policy")
    if slug is None:
        brand = brands.filter(is_default=True).order_by("pk").first()
        if brand is None:
            raise Http404("No default brand")
        return brand
    return get_object_or_404(brands, slug=slug)


def _context(request, brand: Brand, **extra) -> dict:
    return {
        "brand": brand,
        "theme": theme.for_brand(brand),
        "policy": (policy := eligibility.policy_for(brand)),
        "window_rule": eligibility.window_rule(policy.window_days),
        "lookup_url": reverse("returns:lookup", args=[brand.slug]),
        "policy_link_minutes": settings.RETURNS_LINK_MINUTES,
        **extra,
    }


def _private(response):
    """Pages with a customer's order on them: never cached, never indexed."""
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex"
    return response


def with_session(view):
    """Views of one looked-up order: load the brand and the portal session, or send the
    customer back to the lookup page."""

    @wraps(view)
    def wrapper(request, brand: str, *args, **kwargs):
        brand_obj = _brand(brand)
        session = portal_session.load(request)
        if session is None or session.brand_id != brand_obj.pk:
            return SeeOther(reverse("returns:lookup", args=[brand_obj.slug]) + "?expired=1")
        order = Order.objects.filter(pk=session.order_id).prefetch_related("lines").first()
        if order is None:
            return SeeOther(reverse("returns:lookup", args=[brand_obj.slug]) + "?expired=1")
        return _private(view(request, brand_obj, session, order, *args, **kwargs))

    return wrapper


@require_http_methods(["GET", "POST"])
def lookup(request, brand: str | None = None):
    """Step 1. Any mismatch answers with the same redirect to `?retry=1`, whatever was wrong,
    so nothing in the answer (status, headers, body) says which part did not match."""
    brand = _brand(brand)
    policy = eligibility.policy_for(brand)
    form = LookupForm(request.POST or None)
    limited = None
    if request.method == "POST" and policy.portal_enabled and form.is_valid():
        result = order_lookup.lookup(
            brand=brand,
            order_number=form.cleaned_data["order_number"],
            postal_code=form.cleaned_data["postal_code"],
            client=ratelimit.client_address(request),
        )
        if result.limited:
            limited = result
            form = LookupForm()
        elif result.order_id is None:
            # The same answer whatever did not match; it keeps only what the customer typed as
            # the order number (never the postal code), so the form comes back filled in.
            response = SeeOther(request.path + "?retry=1")
            response.set_signed_cookie(
                TYPED_COOKIE,
                form.cleaned_data["order_number"],
                salt=TYPED_COOKIE,
                max_age=15 * 60,
                path=request.path,
                httponly=True,
                samesite="Lax",
                secure=request.is_secure(),
            )
            return response
        else:
            response = SeeOther(reverse("returns:items", args=[brand.slug]))
            portal_session.save(response, PortalSession(order_id=result.order_id, brand_id=brand.pk))
            return response
    failed = request.method == "GET" and request.GET.get("retry") == "1"
    if failed:
        typed = request.get_signed_cookie(TYPED_COOKIE, default="", salt=TYPED_COOKIE, max_age=15 * 60)
        form = LookupForm(initial={"order_number": typed})
    context = _context(
        request,
        brand,
        form=form,
        limited=limited,
        link_form=LinkForm(),
        failed=failed,
        expired=request.method == "GET" and request.GET.get("expired") == "1",
        link_sent=request.method == "GET" and request.GET.get("link") == "sent",
    )
    response = render(request, "returns/lookup.html", context, status=429 if limited else 200)
    if limited:
        response["Retry-After"] = str(limited.retry_after)
    return response


@require_http_methods(["POST"])
def email_link(request, brand: str):
    """ "Email me a link": for a customer who cannot pass the postal code check (or whose order
    number met its limit because a stranger guessed at it). Always the same answer."""
    brand = _brand(brand)
    form = LinkForm(request.POST)
    if not (eligibility.policy_for(brand).portal_enabled and form.is_valid()):
        return SeeOther(reverse("returns:lookup", args=[brand.slug]))
    result = order_lookup.request_link(
        brand=brand,
        order_number=form.cleaned_data["link_order_number"],
        client=ratelimit.client_address(request),
        language=get_language() or "en",
    )
    if result.limited:
        response = render(
            request,
            "returns/lookup.html",
            _context(request, brand, form=LookupForm(), limited=result, link_form=LinkForm()),
            status=429,
        )
        response["Retry-After"] = str(result.retry_after)
        return response
    return SeeOther(reverse("returns:lookup", args=[brand.slug]) + "?link=sent")


@require_http_methods(["GET"])
def link(request, brand: str, token: str):
    """The emailed link: opens the portal on its order, as a matching lookup would."""
    brand = _brand(brand)
    session = portal_session.read_link(token)
    if (
        session is None
        or session.brand_id != brand.pk
        or not Order.objects.filter(pk=session.order_id).exists()
    ):
        return SeeOther(reverse("returns:lookup", args=[brand.slug]) + "?expired=1")
    response = _private(SeeOther(reverse("returns:items", args=[brand.slug])))
    portal_session.save(response, session)
    return response


@require_http_methods(["GET", "POST"])
@with_session
def items(request, brand, session: PortalSession, order: Order):
    """Step 2: which items, how many, and why."""
    elig = eligibility.eligibility(order, brand=brand)
    form = ItemsForm(
        request.POST or None, eligibility=elig, initial=ItemsForm.initial_from(session.selection)
    )
    if request.method == "POST" and elig.eligible and form.is_valid():
        session.choose([[c.line_id, c.quantity, c.reason] for c in form.choices()], form.cleaned_data["note"])
        response = SeeOther(reverse("returns:confirm", args=[brand.slug]))
        portal_session.save(response, session)
        return response
    previous = order.returns.exclude(status=ReturnRequest.Status.REJECTED).order_by("-created_at")
    return render(
        request,
        "returns/items.html",
        _context(request, brand, order=order, eligibility=elig, form=form, previous=previous),
    )


@require_http_methods(["GET", "POST"])
@with_session
def confirm(request, brand, session: PortalSession, order: Order):
    """Step 3: check and confirm. The form carries the draft's key: a second press of the
    button finds the return the first one made, whose label was booked once."""
    if request.method == "POST":
        key = request.POST.get("key", "")[:64]
        existing = ReturnRequest.objects.filter(idempotency_key=key, order=order).first() if key else None
        if existing is None and (not key or key != session.key or not session.selection):
            return SeeOther(reverse("returns:items", args=[brand.slug]))
        error = None
        try:
            ret = existing or services.create_return(
                order=order,
                brand=brand,
                note=session.note,
                language=get_language() or "en",
                idempotency_key=key,
                choices=[
                    services.Choice(int(line), int(qty), str(reason))
                    for line, qty, reason in session.selection
                ],
                actor=_staff_actor(request, session),
            )
        except services.ReturnError as exc:
            error = str(exc)
        if error is None:
            services.book_return_label(ret)
            session.clear_draft()
            response = SeeOther(reverse("returns:status", args=[brand.slug, ret.public_token]))
            portal_session.save(response, session)
            return response
    else:
        error = None
        if not session.selection:
            return SeeOther(reverse("returns:items", args=[brand.slug]))
    lines = {ln.pk: ln for ln in order.lines.all()}
    reasons = dict(eligibility.policy_for(brand).reason_choices)
    chosen = [
        (lines[line_id], qty, reasons.get(reason, reason))
        for line_id, qty, reason in session.selection
        if line_id in lines
    ]
    return render(
        request,
        "returns/confirm.html",
        _context(
            request,
            brand,
            order=order,
            chosen=chosen,
            session=session,
            error=error,
            return_address=services.return_address(brand),
        ),
        status=409 if error else 200,
    )


def _staff_actor(request, session: PortalSession):
    user = getattr(request, "user", None)
    if (
        session.staff_user_id
        and user is not None
        and user.is_authenticated
        and user.is_staff
        and user.pk == session.staff_user_id
    ):
        return user
    return None


def _return(brand: str, token: str) -> ReturnRequest:
    return get_object_or_404(
        ReturnRequest.objects.select_related("order", "brand__return_policy"),
        public_token=token,
        brand__slug=brand,
    )


@require_http_methods(["GET"])
def status(request, brand: str, token: str):
    """Step 4, and the link in every email: the label, the QR code, the tracking link."""
    ret = _return(brand, token)
    preparing = ret.status == ReturnRequest.Status.APPROVED and not ret.label and not ret.label_error
    lines = ret.lines.select_related("order_line")
    return _private(
        render(
            request,
            "returns/status.html",
            _context(
                request,
                ret.brand,
                ret=ret,
                order=ret.order,
                lines=lines,
                preparing=preparing,
                return_address=services.return_address(ret.brand),
            ),
        )
    )


@require_http_methods(["GET"])
def label(request, brand: str, token: str):
    ret = _return(brand, token)
    if not ret.label:
        raise Http404("No label yet")
    return _private(
        FileResponse(
            ret.label.open("rb"),
            content_type="application/pdf",
            as_attachment=True,
            filename=f"return-label-{ret.number}.pdf",
        )
    )


@require_http_methods(["GET"])
def qr_code(request, brand: str, token: str):
    ret = _return(brand, token)
    if not ret.qr_code:
        raise Http404("No QR code")
    return _private(FileResponse(ret.qr_code.open("rb"), content_type="image/png"))


@require_http_methods(["GET"])
def logo(request, brand: str):
    brand = _brand(brand)
    if not brand.logo:
        raise Http404("No logo")
    content_type = mimetypes.guess_type(brand.logo.name)[0] or "application/octet-stream"
    response = FileResponse(brand.logo.open("rb"), content_type=content_type)
    response["Cache-Control"] = "public, max-age=3600"
    # An uploaded SVG opened on its own must not run scripts on this site.
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    return response


@require_http_methods(["POST"])
def start_again(request, brand: str):
    """Forget the looked-up order (a shared computer)."""
    response = SeeOther(reverse("returns:lookup", args=[_brand(brand).slug]))
    portal_session.end(response)
    return response
