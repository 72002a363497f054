"""Peoplevox Integration Service v4 sandbox: SOAP 1.1 + CSV, a warehouse simulator, events.

Serves ``/{clientId}/resources/integrationservicev4.asmx`` (and ``?wsdl``) as the official
WSDL describes it, plus a JSON control API under ``/_sandbox``. Build it with
`app.create_app`; drive it with `control.PeoplevoxControl`.

Assumptions where the real behaviour is unknown (the stricter choice each time; details in
the named modules and docs/peoplevox_sandbox.md):

* Limiter (`limiter.py`): sliding window per client id; the refusal's shape is configurable
  (default HTTP 200, ResponseId -1, Detail ``System : Request limit exceeded: … Retry after N
  seconds.``; or HTTP 429 with/without Retry-After, HTTP 503, a limit-worded soap:Server fault).
* Sessions (`sessions.py`): expiry and bad credentials answer HTTP 200 with the security
  Detail texts.
* SaveData (`service.py`): one Status per CSV row in order; partial failures save good rows.
* Server errors (`endpoint.py`, fault injection): ``soap:Server`` faults with HTTP 500, before
  or part-way through a SaveData.
* Cancellation (`warehouse.py`): SaveData ``Sales orders`` with ``Status=Cancelled`` only
  before the cut-off status (default ``Picking``); refused past it with a per-row error, and
  always when ``cancel_by_import`` is off. Action 2 on sales orders is refused.
* Status names (`warehouse.py`): ``reported_statuses`` renames statuses as Peoplevox shows them.
* Callbacks (`events.py`): confirmed placeholders only; delivered once, no retry; filter not
  applied.
"""
