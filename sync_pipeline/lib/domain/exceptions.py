"""Why an order cannot go on by itself, and who must act: the rows of the exceptions report.

These are records, not Python exceptions: holding an order is a normal outcome of a rule.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from sync_pipeline.lib.domain.exception_catalogue import Owner, owner_of


class ExceptionKind(StrEnum):
    UNMAPPED_SKU = "unmapped_sku"
    BAD_ADDRESS = "bad_address"
    CHANGE_AFTER_CUTOFF = "change_after_cutoff"
    NEEDS_MANUAL_EDIT = "needs_manual_edit"
    # A value no Peoplevox request can carry (XML 1.0 forbids the character), after cleaning:
    # in practice a routing or config value, since customer text is cleaned and SKUs refused.
    UNSENDABLE_TEXT = "unsendable_text"


# Owners come from the one catalogue (lib/domain/exception_catalogue.py).
DEFAULT_OWNER: dict[ExceptionKind, Owner] = {kind: owner_of(kind.value) for kind in ExceptionKind}


class OrderException(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: ExceptionKind
    owner: Owner
    # Names the SKU, field or status concerned, so the owner can act without digging.
    message: str

    @classmethod
    def of(cls, kind: ExceptionKind, message: str) -> OrderException:
        return cls(kind=kind, owner=DEFAULT_OWNER[kind], message=message)
