"""Rate strings, fixed windows and the client address."""

import pytest
from django.test import RequestFactory

from returns import ratelimit
from returns.ratelimit import Rate


@pytest.mark.parametrize(
    "text,rate",
    [
        ("5/minute", Rate(5, 60)),
        ("10/day", Rate(10, 86400)),
        ("3/h", Rate(3, 3600)),
        ("20/15m", Rate(20, 900)),
        (" 7 / seconds ", Rate(7, 1)),
        ("100/days", Rate(100, 86400)),
    ],
)
def test_rates_are_read_from_plain_words(text, rate):
    assert Rate.parse(text) == rate


@pytest.mark.parametrize("text", ["", "5", "five/minute", "5/fortnight", "5/-1m"])
def test_a_bad_rate_is_refused_with_the_format(text):
    with pytest.raises(ValueError, match="5/minute"):
        Rate.parse(text)


def test_counts_reset_with_the_window():
    rate = Rate(2, 60)
    assert [ratelimit.hit("t", "a", rate, now=120.0) for _ in range(3)] == [1, 2, 3]
    assert ratelimit.count("t", "a", rate, now=179.0) == 3
    assert ratelimit.count("t", "a", rate, now=180.0) == 0
    assert ratelimit.count("t", "b", rate, now=120.0) == 0
    assert ratelimit.retry_after(rate, now=150.0) == 30


@pytest.mark.parametrize(
    "meta,proxies,expected",
    [
        ({"REMOTE_ADDR": "203.0.113.5"}, 0, "203.0.113.5"),
        ({"REMOTE_ADDR": "203.0.113.5", "HTTP_X_FORWARDED_FOR": "1.1.1.1"}, 0, "203.0.113.5"),
        ({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "9.9.9.9, 198.51.100.7"}, 1, "198.51.100.7"),
        ({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "198.51.100.7, 10.0.0.2"}, 2, "198.51.100.7"),
        ({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": ""}, 1, "10.0.0.1"),
        ({"REMOTE_ADDR": "2001:db8:1:2:3:4:5:6"}, 0, "2001:db8:1:2::/64"),
        ({"REMOTE_ADDR": "::ffff:192.0.2.1"}, 0, "192.0.2.1"),
    ],
)
def test_the_client_address(settings, meta, proxies, expected):
    settings.RETURNS_TRUSTED_PROXY_COUNT = proxies
    request = RequestFactory().get("/", **meta)
    request.META.update(meta)
    assert ratelimit.client_address(request) == expected
