"""Peoplevox Integration Service v4 sandbox: SOAP 1.1 + CSV, a warehouse simulator, events.

Serves ``/{clientId}/resources/integrationservicev4.asmx`` (and ``?wsdl``) as the official
WSDL describes it, plus a JSON control API under ``/_sandbox``. Build it with
`app.create_app`; drive it with `control.PeoplevoxControl`.

Assumptions where the real behaviour is unknown (the stricter choice each time; details in
the named modules and docs/peoplevox_sandbox.md):

* Limiter (`limiter.py`): sliding window per client id; refusal = HTTP 200, ResponseId -1,
  Detail ``System : Request limit exceeded: … Retry after N seconds.``
* Sessions (`sessions.py`): expiry and bad credentials answer HTTP 200 with the security
  Detail texts.
* SaveData (`service.py`): one Status per CSV row in order; partial failures save good rows.
* Cancellation (`warehouse.py`): SaveData ``Sales orders`` with ``Status=Cancelled`` only
  before the cut-off status (default ``Picking``); refused past it with a per-row error.
  Action 2 on sales orders is refused.
* Callbacks (`events.py`): delivered once, no retry; filter not applied.
"""
