"""One try of one run: the job, the portal's settings and its clients, as every job kind sees it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from hubnox.jobs import Job
from hubnox.sync.portal_lookups import fresh_for
from hubnox.sync.portal_settings import PortalSettings
from hubnox.sync.ports import Fortnox, HubSpot


@dataclass
class Attempt:
    """One try of one run: the job, the portal's settings and its clients (built when first used)."""

    job: Job
    attempt: int
    max_attempts: int
    hubspot_factory: Callable[[str], HubSpot]
    fortnox_factory: Callable[[str], Fortnox]
    settings: PortalSettings | None = None
    #: reporting steps done by earlier tries of the run (see `Reporter.once`)
    progress: dict[str, str] = field(default_factory=dict)
    #: what the try learned about the run so far (`record_name`, `customer_number`, `customer_name`): kept
    #: on the run even when the try fails, so the sync log names the deal a failure was about
    learned: dict[str, str] = field(default_factory=dict)
    _hubspot: HubSpot | None = None
    _fortnox: Fortnox | None = None

    @property
    def portal_id(self) -> str:
        return self.job.portal_id

    @property
    def hubspot(self) -> HubSpot:
        """The portal's HubSpot; a run a person started reads past the portal's cache (`fresh_for`)."""
        if self._hubspot is None:
            self._hubspot = fresh_for(self.hubspot_factory(self.portal_id), self.job.trigger)
        return self._hubspot

    @property
    def fortnox(self) -> Fortnox:
        if self._fortnox is None:
            self._fortnox = self.fortnox_factory(self.portal_id)
        return self._fortnox

    @property
    def last(self) -> bool:
        return self.attempt >= self.max_attempts

    @property
    def portal_settings(self) -> PortalSettings:
        """The portal's settings as loaded for this try (the defaults before they are)."""
        return self.settings or PortalSettings()
