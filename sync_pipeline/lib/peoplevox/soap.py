"""SOAP 1.1 envelopes for the client: built as text with strict escaping, read with defusedxml."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
PVX_NS = "http://www.peoplevox.net/"
# Characters XML 1.0 cannot carry at all; better to refuse them here than to send garbage.
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


class ResponseFormatError(ValueError):
    """The answer was not a SOAP envelope with the expected result element."""


def escape(text: str) -> str:
    bad = _ILLEGAL.search(text)
    if bad:
        raise ValueError(f"character U+{ord(bad.group()):04X} cannot be sent in XML")
    # CR is escaped so the XML reader does not turn CRLF inside a CSV value into LF.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


def element(name: str, value: str | int | None) -> str:
    if value is None:
        return ""
    return f"<{name}>{escape(str(value))}</{name}>"


def envelope(operation: str, body: str, session: tuple[str, str] | None) -> bytes:
    header = ""
    if session is not None:
        client_id, session_id = session
        header = (
            f'<soap:Header><UserSessionCredentials xmlns="{PVX_NS}"><UserId>0</UserId>'
            f"{element('ClientId', client_id)}{element('SessionId', session_id)}"
            "</UserSessionCredentials></soap:Header>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<soap:Envelope xmlns:soap="{SOAP_ENV}">{header}<soap:Body>'
        f'<{operation} xmlns="{PVX_NS}">{body}</{operation}></soap:Body></soap:Envelope>'
    ).encode()


@dataclass
class StatusRow:
    reference: str
    status: str


@dataclass
class IntegrationResponse:
    response_id: int
    total_count: int
    detail: str
    statuses: list[StatusRow] | None = field(default=None)

    @property
    def ok(self) -> bool:
        return self.response_id == 0


@dataclass
class SoapFaultInfo:
    code: str
    message: str


def _child(parent: Element, name: str) -> Element | None:
    return parent.find(f"{{{PVX_NS}}}{name}")


def parse_response(payload: bytes, operation: str) -> IntegrationResponse | SoapFaultInfo:
    try:
        root = SafeET.fromstring(payload, forbid_dtd=True)
    except (SafeET.ParseError, DefusedXmlException, ValueError) as exc:
        raise ResponseFormatError(f"unreadable XML: {exc}") from None
    body = root.find(f"{{{SOAP_ENV}}}Body")
    if body is None:
        raise ResponseFormatError("no SOAP Body")
    fault = body.find(f"{{{SOAP_ENV}}}Fault")
    if fault is not None:
        return SoapFaultInfo(fault.findtext("faultcode") or "", fault.findtext("faultstring") or "")
    wrapper = _child(body, f"{operation}Response")
    result = None if wrapper is None else _child(wrapper, f"{operation}Result")
    if result is None:
        raise ResponseFormatError(f"no {operation}Result in the answer")
    try:
        response_id = int(result.findtext(f"{{{PVX_NS}}}ResponseId") or "")
        total = int(result.findtext(f"{{{PVX_NS}}}TotalCount") or "0")
    except ValueError:
        raise ResponseFormatError("ResponseId or TotalCount is not a number") from None
    statuses = None
    status_parent = _child(result, "Statuses")
    if status_parent is not None:
        statuses = [
            StatusRow(s.findtext(f"{{{PVX_NS}}}Reference") or "", s.findtext(f"{{{PVX_NS}}}Status") or "")
            for s in status_parent.findall(f"{{{PVX_NS}}}IntegrationStatusResponse")
        ]
    return IntegrationResponse(response_id, total, result.findtext(f"{{{PVX_NS}}}Detail") or "", statuses)
