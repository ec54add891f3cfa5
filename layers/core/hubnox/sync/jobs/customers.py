"""The `sync_customer` job: a company or contact becomes (or updates) its Fortnox customer, the
customer number is written back and the workflow callback completed (`hubnox.sync.delivery`)."""

from __future__ import annotations

from typing import Any

from hubnox.errors import BadRequestError
from hubnox.hubspot import paths
from hubnox.hubspot.models import Company, Contact
from hubnox.sync.attempt import Attempt
from hubnox.sync.customer_guard import CustomerGuard
from hubnox.sync.customers import resolve_record_customer
from hubnox.sync.delivery import Outcome
from hubnox.sync.reporting import CallbackOutputs, callback, write_back


class SyncCustomer:
    """Carries out `sync_customer` jobs; `customer_guard` (None: none) keeps overlapping runs of one record
    from creating its customer twice."""

    def __init__(self, customer_guard: CustomerGuard | None = None) -> None:
        self._guard = customer_guard

    def __call__(self, current: Attempt) -> tuple[dict[str, Any], Outcome]:
        """Match or create the record's Fortnox customer; answers the run's result and the outcome to tell."""
        job, settings = current.job, current.portal_settings
        if job.object_type not in ("company", "contact") or not job.object_id:
            raise BadRequestError("A sync-customer job must name a company or a contact.", code="BAD_JOB")
        model: type[Company] | type[Contact] = Company if job.object_type == "company" else Contact
        wanted = settings.hubspot_properties()[job.object_type]
        record = current.hubspot.get_object(paths.object_type(job.object_type), job.object_id,
                                            list(dict.fromkeys([*model.PROPERTIES, *wanted])), model=model)
        name = record.name if isinstance(record, Company) else record.full_name
        if name:
            current.learned["record_name"] = name
        customer = resolve_record_customer(
            record, settings, current.fortnox,
            customers_made=self._guard.for_attempt(current) if self._guard is not None else None)
        outcome = Outcome(updates=write_back(customer),
                          callback=callback(job, {CallbackOutputs.STATE: "SUCCESS",
                                                  CallbackOutputs.CUSTOMER_NUMBER: customer.customer_number}))
        return {"customer_number": customer.customer_number, "customer_name": customer.customer_name,
                "action": customer.action, "changed_fields": customer.changed_fields,
                "warnings": [warning.message for warning in customer.warnings], **current.learned}, outcome
