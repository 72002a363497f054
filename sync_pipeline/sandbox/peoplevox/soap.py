"""SOAP 1.1 envelopes for the sandbox: read requests as the WSDL defines them, write responses.

Requests are parsed with defusedxml (no DTDs, no entities). Element names and namespaces are
matched exactly as in the WSDL (document/literal, elementFormDefault qualified). Malformed
requests get an ASMX-style SOAP fault with HTTP 500.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
PVX_NS = "http://www.peoplevox.net/"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"

# Operation → (wrapper element or None, [(child, is required int)]).
OPERATIONS: dict[str, tuple[str | None, tuple[tuple[str, bool], ...]]] = {
    "Authenticate": (None, (("clientId", False), ("username", False), ("password", False))),
    "GetData": (
        "getRequest",
        (("TemplateName", False), ("PageNo", True), ("ItemsPerPage", True), ("SearchClause", False)),
    ),
    "GetReportData": (
        "getReportRequest",
        (
            ("TemplateName", False),
            ("PageNo", True),
            ("ItemsPerPage", True),
            ("SearchClause", False),
            ("FilterClause", False),
            ("OrderBy", False),
            ("Columns", False),
        ),
    ),
    "GetReportColumns": (None, (("templateName", False),)),
    "GetSaveTemplate": (None, (("templateName", False),)),
    "SaveData": ("saveRequest", (("TemplateName", False), ("CsvData", False), ("Action", True))),
    "SubscribeEvent": (None, (("eventType", False), ("filter", False), ("callbackUrl", False))),
    "SubscribePostEvent": (
        None,
        (("eventType", False), ("filter", False), ("postUrl", False), ("postParams", False)),
    ),
    "UnsubscribeEvent": (None, (("subscriptionId", True),)),
}
INT_PARAMS = {name for _, params in OPERATIONS.values() for name, is_int in params if is_int}


# How ASMX words an unhandled SQL timeout (soap:Server, HTTP 500).
SERVER_TIMEOUT = (
    "Server was unable to process request. ---> Execution Timeout Expired.  The timeout period "
    "elapsed prior to completion of the operation or the server is not responding."
)


class SoapFault(Exception):
    def __init__(self, message: str, code: str = "soap:Client") -> None:
        super().__init__(message)
        self.code = code


@dataclass
class SoapRequest:
    operation: str
    params: dict[str, str | int | None]
    credentials: dict[str, str] | None


@dataclass
class IntegrationResult:
    response_id: int = 0
    total_count: int = 0
    detail: str | None = None
    statuses: list[tuple[str, str]] | None = field(default=None)

    @classmethod
    def error(cls, detail: str, total_count: int = 0) -> IntegrationResult:
        return cls(-1, total_count, detail)


def _q(name: str, ns: str = PVX_NS) -> str:
    return f"{{{ns}}}{name}"


def _text(element: Element | None) -> str | None:
    if element is None or element.get(_q("nil", XSI_NS)) == "true":
        return None
    return element.text or ""


def parse_request(body: bytes, soap_action: str | None) -> SoapRequest:
    try:
        root = SafeET.fromstring(body, forbid_dtd=True)
    except (SafeET.ParseError, DefusedXmlException, ValueError) as exc:
        raise SoapFault(f"Server was unable to read request. ---> {exc}") from None
    if root.tag != _q("Envelope", SOAP_ENV):
        raise SoapFault(
            "Possible SOAP version mismatch: Envelope namespace was unexpected.", "soap:VersionMismatch"
        )
    soap_body = root.find(_q("Body", SOAP_ENV))
    if soap_body is None or len(soap_body) == 0:
        raise SoapFault("Server was unable to read request: no SOAP Body.")
    element = soap_body[0]
    operation = element.tag.removeprefix(f"{{{PVX_NS}}}")
    if operation not in OPERATIONS or element.tag != _q(operation):
        raise SoapFault(f"Server did not recognize the value of HTTP Header SOAPAction: {soap_action}.")
    action = (soap_action or "").strip().strip('"')
    if action != PVX_NS + operation:
        raise SoapFault(f"Server did not recognize the value of HTTP Header SOAPAction: {soap_action}.")
    wrapper, spec = OPERATIONS[operation]
    container = element if wrapper is None else element.find(_q(wrapper))
    params: dict[str, str | int | None] = {}
    for name, is_int in spec:
        value = _text(container.find(_q(name))) if container is not None else None
        if is_int:
            try:
                params[name] = int((value or "").strip())
            except ValueError:
                raise SoapFault(
                    f"Server was unable to read request. ---> '{name}' must be an integer."
                ) from None
        else:
            params[name] = value
    credentials = None
    header = root.find(_q("Header", SOAP_ENV))
    if header is not None:
        creds = header.find(_q("UserSessionCredentials"))
        if creds is not None:
            credentials = {
                name: _text(creds.find(_q(name))) or "" for name in ("UserId", "ClientId", "SessionId")
            }
    return SoapRequest(operation, params, credentials)


def escape(text: str) -> str:
    # Carriage returns are escaped too: a raw CR would be normalised away by the reader.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


_HEAD = (
    '<?xml version="1.0" encoding="utf-8"?>'
    f'<soap:Envelope xmlns:soap="{SOAP_ENV}" xmlns:xsi="{XSI_NS}" '
    'xmlns:xsd="http://www.w3.org/2001/XMLSchema"><soap:Body>'
)
_TAIL = "</soap:Body></soap:Envelope>"


def render_response(operation: str, result: IntegrationResult) -> bytes:
    parts = [
        _HEAD,
        f'<{operation}Response xmlns="{PVX_NS}"><{operation}Result>',
        f"<ResponseId>{result.response_id}</ResponseId><TotalCount>{result.total_count}</TotalCount>",
    ]
    if result.detail is not None:
        parts.append(f"<Detail>{escape(result.detail)}</Detail>")
    if result.statuses is not None:
        parts.append("<Statuses>")
        for reference, status in result.statuses:
            parts.append(
                f"<IntegrationStatusResponse><Reference>{escape(reference)}</Reference>"
                f"<Status>{status}</Status></IntegrationStatusResponse>"
            )
        parts.append("</Statuses>")
    parts.append(f"</{operation}Result></{operation}Response>{_TAIL}")
    return "".join(parts).encode("utf-8")


def render_fault(fault: SoapFault) -> bytes:
    return (
        f"{_HEAD}<soap:Fault><faultcode>{fault.code}</faultcode>"
        f"<faultstring>{escape(str(fault))}</faultstring><detail /></soap:Fault>{_TAIL}"
    ).encode()
