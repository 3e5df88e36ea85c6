"""Validate the sandbox's answers against the vendors' official API specs (tests/specs/).

A `Spec` finds the operation a URL and method name, picks the schema the spec gives for the
answer's status and validates the JSON body with jsonschema, every `$ref` resolved inside the
spec document. OpenAPI 3.0 schemas go through openapi-schema-validator's OAS 3.0 dialect
(`nullable`, …); Swagger 2.0 schemas are JSON Schema draft 4.

Where a spec gives no schema for an error status the vendor still answers (eBay documents its
errors only in prose; no spec lists 429), the vendor's documented error body is used instead:
`error_schema`. A request that succeeded is checked too: its query parameters against the
operation's declared parameters, its JSON or form body against the request schema, and a body
of a content type the spec does not take fails. Anything that does not fit fails the test with
the method, path, status and the schema error."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from jsonschema import Draft4Validator
from jsonschema.exceptions import best_match
from openapi_schema_validator import OAS30Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

SPECS = Path(__file__).resolve().parent.parent / "specs"


def _pointer(*parts: str) -> str:
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


@dataclass
class Spec:
    filename: str
    #: the sandbox path the spec's paths hang below, e.g. "/sandbox/ebay/sell/fulfillment/v1"
    prefix: str
    #: the schema for error statuses the spec gives none for; its "#/…" refs point into the spec
    error_schema: dict | None = None
    #: changes to the spec where the live API is known to differ from it (each with its reason)
    amend: Callable[[dict], None] | None = None
    doc: dict = field(init=False, repr=False)
    checked: list[tuple[str, str, int]] = field(init=False, default_factory=list)

    def __post_init__(self):
        self.doc = json.loads((SPECS / self.filename).read_text())
        if self.amend is not None:
            self.amend(self.doc)
        self.uri = f"urn:spec:{self.filename}"
        self.swagger2 = str(self.doc.get("swagger", "")).startswith("2")
        self.registry = Registry().with_resource(self.uri, Resource(contents=self.doc, specification=DRAFT4))
        self._templates = sorted(self.doc["paths"], key=lambda p: p.count("{"))  # literal segments win
        if self.error_schema is not None:  # its "#/…" refs point into this spec
            self.error_schema = json.loads(json.dumps(self.error_schema).replace('"#/', f'"{self.uri}#/'))

    # -- finding the schema
    def template(self, path: str) -> str | None:
        if not path.startswith(self.prefix):
            return None
        rest = path[len(self.prefix) :] or "/"
        for template in self._templates:
            if re.fullmatch(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)), rest):
                return template
        return None

    def schema_for(self, template: str, method: str, status: int) -> dict | None:
        """The schema the spec gives this answer, or `error_schema` for a 4xx/5xx it leaves
        without one. Fails when the spec has no such operation, or neither applies."""
        operation = self.doc["paths"][template].get(method.lower())
        if operation is None:
            pytest.fail(f"{method} {template}: the spec has no such operation")
        responses = operation["responses"]
        declared = str(status) in responses
        response = responses.get(str(status)) or responses.get("default")
        base = ("paths", template, method.lower(), "responses", str(status) if declared else "default")
        if response is not None and "$ref" not in response:
            if self.swagger2 and "schema" in response:
                return {"$ref": f"{self.uri}#/{_pointer(*base, 'schema')}"}
            if "application/json" in (response.get("content") or {}):
                return {"$ref": f"{self.uri}#/{_pointer(*base, 'content', 'application/json', 'schema')}"}
        if status >= 400 and self.error_schema is not None:
            return self.error_schema
        if response is None:
            pytest.fail(f"{method} {template}: the spec declares no answer with status {status}")
        return None  # a declared answer without a body (204)

    def request_schema(self, template: str, method: str, content_type: str) -> dict | None:
        """The schema of the operation's request body for this content type (None: it has none)."""
        operation = self.doc["paths"][template][method.lower()]
        base = ("paths", template, method.lower())
        if self.swagger2:
            for i, parameter in enumerate(operation.get("parameters") or []):
                if parameter.get("in") == "body":
                    return {"$ref": f"{self.uri}#/{_pointer(*base, 'parameters', str(i), 'schema')}"}
            return None
        content = (operation.get("requestBody") or {}).get("content") or {}
        if content_type not in content:
            pytest.fail(
                f"{method} {template}: the spec takes {sorted(content) or 'no body'}, not {content_type}"
            )
        return {"$ref": f"{self.uri}#/{_pointer(*base, 'requestBody', 'content', content_type, 'schema')}"}

    def check_query(self, template: str, method: str, url: str) -> None:
        """Each query parameter the request carried is one the operation declares, with a value
        its schema allows (type, enum, bounds; arrays comma-separated): a sandbox that takes an
        out-of-spec value quietly would hide a connector sending one."""
        operation = self.doc["paths"][template][method.lower()]
        declared = {
            p["name"]: p
            for p in self.doc["paths"][template].get("parameters", []) + operation.get("parameters", [])
            if p.get("in") == "query"
        }
        for name, values in parse_qs(urlsplit(url).query, keep_blank_values=True).items():
            where = f"{method} {template}: query parameter {name}={values[0]!r}"
            if name not in declared:
                pytest.fail(f"{where} is not one {self.filename} declares ({', '.join(sorted(declared))})")
            parameter = declared[name]
            schema = dict(parameter.get("schema") or parameter)
            schema = {k: v for k, v in schema.items() if k in QUERY_KEYWORDS}
            for value in values:
                self._check(schema, _coerce(value, schema), where)

    def _check(self, schema: dict, instance, where: str) -> None:
        validator_class = Draft4Validator if self.swagger2 else OAS30Validator
        errors = list(validator_class(schema, registry=self.registry).iter_errors(instance))
        if errors:
            first = best_match(errors)
            others = "; ".join(f"{e.json_path}: {e.message[:120]}" for e in errors[:8] if e is not first)
            pytest.fail(
                f"{where}, which does not fit {self.filename}: {first.message} "
                f"(at {first.json_path}; schema {'/'.join(map(str, first.schema_path))}); "
                f"{len(errors)} error(s) in all" + (f"; also {others}" if others else "")
            )

    # -- validating
    def validate(self, response: requests.Response) -> tuple[str, str, int]:
        """Validate one answer, and the JSON body of the request that got it (a sandbox that
        accepts a body the real API refuses would hide a connector's bug); returns (method,
        template, status) of what was checked."""
        method = response.request.method
        path = urlsplit(response.url).path
        template = self.template(path)
        if template is None:
            pytest.fail(f"{method} {path}: no path of {self.filename} matches")
        if 200 <= response.status_code < 300:
            self.check_query(template, method, response.request.url)
        sent = response.request.body
        if sent and 200 <= response.status_code < 300:
            content_type = (response.request.headers.get("Content-Type") or "").split(";")[0].strip()
            schema = self.request_schema(template, method, content_type)
            if content_type == "application/json" and schema is not None:
                self._check(schema, json.loads(sent), f"{method} {path} ({template}) was sent")
            elif content_type == "application/x-www-form-urlencoded" and schema is not None:
                text = sent.decode() if isinstance(sent, bytes) else sent
                properties = self.registry.resolver().lookup(schema["$ref"]).contents.get("properties") or {}
                form = {
                    name: _coerce(values[0], properties.get(name) or {})
                    for name, values in parse_qs(text, keep_blank_values=True).items()
                }
                self._check(schema, form, f"{method} {path} ({template}) was sent the form")
        status = response.status_code
        schema = self.schema_for(template, method, status)
        where = f"{method} {path} ({template}) answered {status}"
        if schema is None:
            assert not response.content, (
                f"{where}: the spec gives no body, the sandbox sent {response.text[:200]!r}"
            )
        elif not response.content and status in (201, 204):
            pass  # eBay's createShippingFulfillment: 201, no body, the new fulfilment in Location
        else:
            try:
                body = response.json()
            except ValueError:
                pytest.fail(f"{where} with a body that is not JSON: {response.text[:200]!r}")
            self._check(schema, body, where)
        checked = (method, template, status)
        self.checked.append(checked)
        return checked


QUERY_KEYWORDS = {
    "type",
    "enum",
    "items",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
    "maxLength",
    "minLength",
    "pattern",
    "format",
}


def _coerce(value: str, schema: dict):
    """A query string's text as the JSON value the parameter's schema describes."""
    kind = schema.get("type")
    if kind == "array":
        return [_coerce(v, schema.get("items") or {}) for v in value.split(",")]
    if kind in ("integer", "number"):
        try:
            return int(value) if kind == "integer" else float(value)
        except ValueError:
            return value  # and the schema says why it is wrong
    if kind == "boolean":
        return {"true": True, "false": False}.get(value, value)
    return value


def capture(session: requests.Session) -> list[requests.Response]:
    """Every answer `session` gets, in order (a response hook: the connector's own calls)."""
    seen: list[requests.Response] = []
    session.hooks["response"].append(lambda response, *args, **kwargs: seen.append(response))
    return seen
