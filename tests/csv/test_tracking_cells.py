"""A tracking number is one line: a cell with a line break, a tab or another control character
inside is an error on its row, never silently glued together ("RL⏎INJ" is not "RLINJ")."""

import pytest

from tests.csv.helpers import last_job, page_text, upload, written

HEAD = "order_number,channel,carrier,tracking_number,ship_date\n"


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        (
            '"RL\nINJ"',
            "“RL⏎INJ” has characters a tracking number never has (a line break: a tracking number is one line)",
        ),
        ('"RL\r\nINJ"', "(a line break: a tracking number is one line)"),
        ('"RL\tINJ"', "“RL⇥INJ” has characters a tracking number never has (a tab"),
        ("RL\x07INJ", "(a control character: a tracking number is one line)"),
    ],
)
def test_a_control_character_in_a_tracking_number_is_an_error_not_a_change(
    staff_client, shop, cell, expected
):
    before = written()
    page = upload(staff_client, HEAD + f"1001,Etsy-Main,Royal Mail,{cell},\n")
    text = page_text(page)
    assert "row 2, tracking_number:" in text and expected in text
    assert last_job().params["phase"] in ("preview", "rejected")
    assert written() == before


def test_spaces_printed_in_a_tracking_number_are_still_closed_up(staff_client, shop):
    upload(staff_client, HEAD + "1001,Etsy-Main,Royal Mail,RM 1234 5678 5GB,\n")
    assert "RM123456785GB" in page_text(staff_client.get(f"/admin/shipping/csv/jobs/{last_job().pk}/"))
