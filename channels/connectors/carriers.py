"""Tracking companies in each channel's own vocabulary.

Shipdesk names a tracking company once (the keys below, shown in shipping mappings); each
connector asks `for_channel(kind, company)` for the code its API expects. A company a
channel does not know falls back to that channel's "other" convention, keeping the name."""

# company: {channel kind: code}
VOCABULARY: dict[str, dict[str, str]] = {
    "USPS": {"etsy": "usps", "amazon": "USPS", "ebay": "USPS", "shopify": "USPS", "ecwid": "USPS"},
    "UPS": {"etsy": "ups", "amazon": "UPS", "ebay": "UPS", "shopify": "UPS", "ecwid": "UPS"},
    "FedEx": {"etsy": "fedex", "amazon": "FedEx", "ebay": "FedEx", "shopify": "FedEx", "ecwid": "FedEx"},
    "DHL Express": {
        "etsy": "dhl-express",
        "amazon": "DHL",
        "ebay": "DHL",
        "shopify": "DHL Express",
        "ecwid": "DHL",
    },
    "Royal Mail": {
        "etsy": "royal-mail",
        "amazon": "Royal Mail",
        "ebay": "RoyalMail",
        "shopify": "Royal Mail",
    },
    "Parcelforce": {
        "etsy": "parcelforce",
        "amazon": "Parcelforce",
        "ebay": "ParcelForce",
        "shopify": "Parcelforce",
    },
    "Canada Post": {
        "etsy": "canada-post",
        "amazon": "Canada Post",
        "ebay": "CanadaPost",
        "shopify": "Canada Post",
    },
    "DPD": {"etsy": "dpd", "amazon": "DPD", "ebay": "DPD", "shopify": "DPD"},
    "Colissimo": {"etsy": "colissimo", "amazon": "Colissimo", "ebay": "Colissimo", "shopify": "Colissimo"},
    "La Poste": {"etsy": "la-poste", "amazon": "La Poste", "ebay": "LaPoste", "shopify": "La Poste"},
    "PostNL": {"etsy": "postnl", "amazon": "PostNL", "ebay": "PostNL", "shopify": "PostNL"},
    "Deutsche Post": {
        "etsy": "deutsche-post",
        "amazon": "Deutsche Post",
        "ebay": "DeutschePost",
        "shopify": "Deutsche Post",
    },
    "Australia Post": {
        "etsy": "australia-post",
        "amazon": "Australia Post",
        "ebay": "AustraliaPost",
        "shopify": "Australia Post",
    },
    "GLS": {"etsy": "gls", "amazon": "GLS", "ebay": "GLS", "shopify": "GLS"},
    # UK couriers Amazon and eBay list by name (Amazon's CarrierCode list; eBay ShippingCarrierCodeType).
    "Yodel": {"amazon": "Yodel", "ebay": "Yodel"},
    "Evri": {"amazon": "Evri"},
}

TRACKING_COMPANIES = sorted(VOCABULARY)


def for_channel(kind: str, company: str) -> str | None:
    """The channel's code for `company`, or None when the channel does not know it."""
    wanted = _plain(company)
    for name, codes in VOCABULARY.items():
        if _plain(name) == wanted:
            return codes.get(kind)
    return None


def _plain(company: str) -> str:
    """ "Royal Mail", "royal_mail", "royal-mail" and " ROYAL  MAIL " are one company (carriers'
    own codes, such as Sendcloud's, write names this way)."""
    return " ".join((company or "").lower().replace("_", " ").replace("-", " ").split())
