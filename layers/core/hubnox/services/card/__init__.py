"""The app card: what a HubSpot record page shows of Fortnox, and the card's actions.

`CardService.card` builds the JSON the React card (`hubspot-app/src/app/cards/`) renders, over
ports only: the stored connections, runs and deal links, a CRM reader for the portal and a
Fortnox reader for its connected company.

- A **company or contact** shows its Fortnox customer (number, name, a link to Fortnox), what it
  owes (outstanding and overdue, per currency), how many invoices are unpaid and overdue, and its
  latest invoices with their status. The customer is the one named by the record's Fortnox
  customer number property, else the one the portal's match rule finds, when a matcher is given.
- A **deal** shows its Fortnox document (type, number, status, total, balance), found through the
  deal links hubnox recorded or the deal's Fortnox properties, the deal's last run with its error
  and a Replay link, and the "Create invoice now" action while the deal has no document.
- Clear **states** instead of errors: `not_installed`, `hubspot_broken`, `fortnox_not_connected`,
  `fortnox_broken` (both with a signed settings link to reconnect), `not_found`, `no_customer`,
  and `ready`.

Decisions, kept here:

- **Time budget.** HubSpot gives a card 15 seconds. Every remote call (HubSpot and Fortnox) runs
  in a thread against one deadline, `REMOTE_BUDGET_SECONDS` (8 s) after the card's building
  starts; whatever has not answered by then is left out and the card says so (`partial`,
  `notes`). A call still running is abandoned, bounded by its own HTTP timeout.
- **Cache.** Cards are cached in process, per container, for `CARD_TTL_SECONDS` (60 s) keyed by
  portal, object type and id; a partial card or a state only for `PARTIAL_TTL_SECONDS`, and a
  card whose last run is queued or running for `IN_FLIGHT_TTL_SECONDS`, so the result shows as
  soon as the worker is done. A container keeps at most `CACHE_MAX_ENTRIES` (1,000) cards; when
  full, expired cards go first, then the least recently viewed. A card action drops the entry for
  its record in the container that ran it; another container may show the card as it was for up
  to a minute, and a second click there answers the run already under way. DynamoDB does not
  back the cache: Fortnox's limit is already guarded across containers by the shared rate budget
  (`hubnox.store.shared_budget`), a DynamoDB cache would add a read and a write to every view and keep
  customers' balances at rest in the table, and the views it would save (a record opened in
  another container within a minute) are few.
- **Fortnox link.** Fortnox's web app has no public deep links (its URLs carry a per-company id
  the API does not expose), so the card links to the web app itself (`FORTNOX_WEB_APP_URL`)
  next to the customer or document number.
- **Statuses.** A document's status is Fortnox's state in hubnox's words
  (`hubnox.fortnox.statuses`): an invoice is `cancelled`, `paid`, `sent`, `booked` or `draft`, an
  order `cancelled`, `invoiced`, `sent` or `draft`; a customer's invoice list speaks of payment.
- **Replay.** The last run carries a signed Replay link when it failed; a queued, running or
  succeeded run needs none.
- **Manual documents.** "Create invoice now" makes the document type the request names, else
  the portal's default (an invoice unless the settings say order, and the button says which);
  its trigger key is `manual:<type>`, so a deal gets at most one card-made document of each
  type. The action refuses while the deal has one, and answers the run already under way
  instead of starting a second.
"""
