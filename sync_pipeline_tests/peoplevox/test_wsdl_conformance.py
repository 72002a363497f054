"""A standard SOAP client (zeep) that loaded the OFFICIAL WSDL calls every operation on the sandbox."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import zeep

from sync_pipeline.sandbox.peoplevox.wsdl import WSDL_PATH
from sync_pipeline_tests.peoplevox.conftest import Sandbox, seed_catalogue

SOAP11_BINDING = "{http://www.peoplevox.net/}IntegrationServiceV4Soap"


@pytest.mark.needs_shared
def test_packaged_wsdl_is_the_official_one(shared_wsdl: Path) -> None:
    assert WSDL_PATH.read_bytes() == shared_wsdl.read_bytes()


@pytest.mark.needs_shared
def test_zeep_calls_every_operation(shared_wsdl: Path, sandbox: Sandbox, receiver) -> None:  # type: ignore[no-untyped-def]
    seed_catalogue(sandbox.control, items=2, stock=10)
    soap = zeep.Client(str(shared_wsdl))
    service = soap.create_service(SOAP11_BINDING, sandbox.asmx)
    operations = {op for op in soap.wsdl.bindings[SOAP11_BINDING]._operations}
    called: set[str] = set()

    auth = service.Authenticate(
        clientId="sandbox", username="integration", password=base64.b64encode(b"sandbox-password").decode()
    )
    called.add("Authenticate")
    assert auth.ResponseId == 0
    client_id, session_id = auth.Detail.split(",")
    header = {"UserSessionCredentials": {"UserId": 0, "ClientId": client_id, "SessionId": session_id}}

    saved = service.SaveData(
        saveRequest={
            "TemplateName": "Sales orders",
            "CsvData": "SalesOrderNumber,Email\r\nZ1,z@x.io\r\n",
            "Action": 0,
        },
        _soapheaders=header,
    )
    called.add("SaveData")
    assert saved.ResponseId == 0 and saved.TotalCount == 1
    assert [s.Status for s in saved.Statuses.IntegrationStatusResponse] == ["Success"]

    data = service.GetData(
        getRequest={"TemplateName": "Sales orders", "PageNo": 1, "ItemsPerPage": 10, "SearchClause": ""},
        _soapheaders=header,
    )
    called.add("GetData")
    assert data.TotalCount == 1 and "Z1" in data.Detail

    report = service.GetReportData(
        getReportRequest={
            "TemplateName": "Item inventory summary",
            "PageNo": 1,
            "ItemsPerPage": 10,
            "SearchClause": '[Site reference].Equals("PrimarySite")',
            "FilterClause": "",
            "OrderBy": "[Item code] desc",
            "Columns": "[Item code],[Available]",
        },
        _soapheaders=header,
    )
    called.add("GetReportData")
    assert report.Detail.splitlines() == ["Item code,Available", "SKU-2,10", "SKU-1,10"]

    columns = service.GetReportColumns(templateName="Despatch summary", _soapheaders=header)
    called.add("GetReportColumns")
    assert "Tracking number" in columns.Detail
    template = service.GetSaveTemplate(templateName="Item types", _soapheaders=header)
    called.add("GetSaveTemplate")
    assert "Barcode" in template.Detail

    get_id = service.SubscribeEvent(
        eventType="GoodsReceived",
        filter="",
        callbackUrl=receiver.url + "/gi?ref={Reference}",
        _soapheaders=header,
    )
    called.add("SubscribeEvent")
    post_id = service.SubscribePostEvent(
        eventType="AvailabilityChanges",
        filter="",
        postUrl=receiver.url + "/avail",
        postParams="item={ItemCode}&available={Available}",
        _soapheaders=header,
    )
    called.add("SubscribePostEvent")
    assert int(post_id.Detail) == int(get_id.Detail) + 1
    gone = service.UnsubscribeEvent(subscriptionId=int(get_id.Detail), _soapheaders=header)
    called.add("UnsubscribeEvent")
    assert gone.ResponseId == 0 and gone.Detail == "True"

    expired = service.GetData(
        getRequest={"TemplateName": "Sales orders", "PageNo": 1, "ItemsPerPage": 10},
        _soapheaders={"UserSessionCredentials": {"UserId": 0, "ClientId": client_id, "SessionId": "nope"}},
    )
    assert expired.ResponseId == -1 and "Invalid Session" in expired.Detail
    assert called == operations
