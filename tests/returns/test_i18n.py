"""English and French: the browser's language, the switch, and a catalogue with nothing missing."""

import gettext
import re
from pathlib import Path

from django.conf import settings

LOCALE = Path(settings.BASE_DIR) / "locale" / "fr" / "LC_MESSAGES"


def test_a_french_browser_gets_the_portal_in_french(client, policy):
    page = client.get("/returns/northern/", HTTP_ACCEPT_LANGUAGE="fr-FR,fr;q=0.9,en;q=0.5")
    text = page.content.decode()
    assert '<html lang="fr">' in text
    assert "Numéro de commande" in text and "Trouver ma commande" in text
    assert page["Content-Language"] == "fr"


def test_an_english_browser_gets_english(client, policy):
    text = client.get("/returns/northern/", HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.9").content.decode()
    assert '<html lang="en">' in text and "Find my order" in text


def test_the_switch_overrides_the_browser(client, policy):
    response = client.post(
        "/returns/language/", {"language": "fr", "next": "/returns/northern/?x=1"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response["Location"] == "/returns/northern/?x=1"
    text = client.get("/returns/northern/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Trouver ma commande" in text
    assert 'value="fr" lang="fr" class="lang__btn" aria-current="true"' in text


def test_the_switch_does_not_redirect_off_site(client, policy):
    response = client.post("/returns/language/", {"language": "fr", "next": "https://evil.example/"})
    assert response["Location"] == "/"


def test_a_failed_lookup_is_explained_in_french(client, policy, make_order):
    make_order("1042", "LS1 4AB")
    location = client.post(
        "/returns/northern/", {"order_number": "1", "postal_code": "X"}, HTTP_ACCEPT_LANGUAGE="fr"
    )["Location"]
    assert (
        "Nous n’avons pas trouvé cette commande"
        in client.get(location, HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    )


def _unquote(lines: str) -> str:
    return "".join(re.findall(r'"(.*)"', lines)).replace('\\"', '"').replace("\\n", "\n")


def _po_entries():
    """(context, msgid, msgid_plural, [msgstr…]) for each entry of the French .po file."""
    text = (LOCALE / "django.po").read_text()
    for block in text.split("\n\n")[1:]:
        fields = dict(
            re.findall(r'^(msgctxt|msgid|msgid_plural|msgstr(?:\[\d\])?) ((?:".*"\n?)+)', block + "\n", re.M)
        )
        yield (
            _unquote(fields["msgctxt"]) if "msgctxt" in fields else None,
            _unquote(fields["msgid"]),
            _unquote(fields.get("msgid_plural", "")),
            [_unquote(v) for k, v in fields.items() if k.startswith("msgstr")],
        )


def test_every_string_has_a_french_translation():
    entries = list(_po_entries())
    assert len(entries) > 100
    assert not [msgid for _, msgid, _, strs in entries if not all(strs)]
    assert "#, fuzzy" not in (LOCALE / "django.po").read_text().split("\n\n", 1)[1]


def test_the_compiled_catalogue_matches_the_po_file():
    """The .mo is committed (CI has no gettext): it must say what the .po says."""
    with (LOCALE / "django.mo").open("rb") as f:
        catalogue = gettext.GNUTranslations(f)
    for ctx, msgid, plural, strs in _po_entries():
        if plural:
            got = [catalogue.ngettext(msgid, plural, 1), catalogue.ngettext(msgid, plural, 2)]
        else:
            got = [catalogue.pgettext(ctx, msgid) if ctx else catalogue.gettext(msgid)]
        assert got == strs, msgid
