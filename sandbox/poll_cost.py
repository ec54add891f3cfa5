"""What one poller cycle costs at many portals, by simulation: `python -m sandbox.poll_cost --portals 10000`.

Runs the real dispatch (`hubnox.sync.poll_fanout.dispatch`), the real per-portal poll (`PortalPoll`) and
the real deal decision (`Poller._consider`) over in-memory stores, queue and HubSpot search that count
what they are asked, on a simulated clock, and prints per cycle (one schedule tick and every poll
message it leads to, continuations included): Lambda invocations, SQS requests and messages, HubSpot
search calls, and DynamoDB item reads and writes — for a quiet cycle (few changed deals) and a busy one
(many changed deals, a few portals past the 10,000-result cap).

The time model: a search takes `SEARCH_SECONDS` (the client paces a portal's search to 5 a second), each
deal that is enqueued `ENQUEUE_SECONDS` (its DynamoDB reads and writes and the job's SendMessage); a
poll has the poller's 60 s timeout less the 10 s reserve, then continues in a new message.

What is counted as a DynamoDB item read or write (one request each, items under 1 KB):
- registry: one read per portal (the registry is one partition, read by Query in 1 MB pages);
- a portal's trigger stages: one read of its settings in the dispatch and one in its poll;
- a poll: its cursor (one read, one write when it moves) and its lease (two writes: take, give back);
- a deal in a trigger stage: its deal link and newest-run pointer (two reads, three when it has a
  run), then the claim (one write) and, when enqueued, the run and its pointer (two writes).
"""

from __future__ import annotations

import argparse
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sandbox.gateway import ensure_layer_importable

ensure_layer_importable()  # `python -m sandbox.poll_cost` runs from the repository root

from hubnox.hubspot.models import CrmObject, SearchPage  # noqa: E402
from hubnox.observability import logger  # noqa: E402
from hubnox.records import DealLink, Run  # noqa: E402
from hubnox.sync.poll_fanout import RESERVE_SECONDS, PollMessage, PortalPoll, dispatch  # noqa: E402
from hubnox.sync.poller import Poller, StageRule  # noqa: E402
from hubnox.sync.triggers import TriggerDecider, TriggerRecord  # noqa: E402

LAMBDA_TIMEOUT_SECONDS = 60.0
SEARCH_SECONDS = 0.2
ENQUEUE_SECONDS = 0.02
CYCLE_MS = 120_000
NOW_MS = 1_800_000_000_000
RULES = [StageRule("closedwon", "invoice", "default")]


@dataclass
class Counts:
    """What one cycle asked of AWS and HubSpot."""

    tally: Counter[str] = field(default_factory=Counter)

    def add(self, name: str, amount: int = 1) -> None:
        self.tally[name] += amount


class Clock:
    """The simulated time: every poll starts at NOW_MS; work moves it on."""

    def __init__(self) -> None:
        self.now = NOW_MS / 1000

    def __call__(self) -> float:
        return self.now


class Search:
    """One portal's deal search over its changed deals: HubSpot's filters, ascending, pages and total."""

    def __init__(self, modified: Sequence[int], counts: Counts, clock: Clock) -> None:
        self.modified = sorted((ms, f"d{index}") for index, ms in enumerate(modified))
        self.counts = counts
        self.clock = clock

    def search(self, object_type: str, filter_groups: Sequence[Mapping[str, Any]], properties: Sequence[str],
               sorts: Sequence[Any] = (), limit: int = 100, after: str | None = None, **_: Any) -> SearchPage:
        self.counts.add("hubspot_search_calls")
        self.clock.now += SEARCH_SECONDS
        filters = {(f["propertyName"], f["operator"]): f for f in filter_groups[0]["filters"]}
        since = int(filters["hs_lastmodifieddate", "GTE"]["value"])
        until = int(filters["hs_lastmodifieddate", "LT"]["value"])
        found = [(ms, deal_id) for ms, deal_id in self.modified if since <= ms < until]
        offset = int(after or 0)
        if offset + limit > 10_000:
            raise RuntimeError("HubSpot answers 400 past 10,000 results")
        page = found[offset:offset + limit]
        return SearchPage(total=len(found), next_after=str(offset + limit) if offset + limit < len(found) else None,
                          results=[CrmObject(id=deal_id, properties={"dealstage": "closedwon", "pipeline": "default",
                                                                         "hs_lastmodifieddate": str(ms)})
                                   for ms, deal_id in page])


class Stores:
    """The poller's stores as counters: cursors, leases, claims, deal links, run history."""

    def __init__(self, counts: Counts, clock: Clock) -> None:
        self.counts = counts
        self.clock = clock
        self.cursors: dict[str, str] = {}
        self.leases: dict[str, str] = {}
        self.claimed: set[str] = set()

    def get(self, portal_id: str, name: str) -> str | None:  # Cursors
        self.counts.add("dynamodb_reads")
        return self.cursors.get(portal_id)

    def put(self, portal_id: str, name: str, value: str) -> None:
        self.counts.add("dynamodb_writes")
        self.cursors[portal_id] = value

    def acquire(self, name: str, owner: str, ttl_seconds: float) -> bool:  # Leases
        self.counts.add("dynamodb_writes")
        return self.leases.setdefault(name, owner) == owner

    def release(self, name: str, owner: str = "") -> bool:
        self.counts.add("dynamodb_writes")
        return self.leases.pop(name, None) is not None

    def claim(self, kind: str, value: str, ttl_seconds: float) -> bool:  # NonceClaims
        self.counts.add("dynamodb_writes")
        if value in self.claimed:
            return False
        self.claimed.add(value)
        return True


class Claims:
    def __init__(self, stores: Stores) -> None:
        self.stores = stores

    def claim(self, kind: str, value: str, ttl_seconds: float) -> bool:
        return self.stores.claim(kind, value, ttl_seconds)

    def release(self, kind: str, value: str) -> None:
        self.stores.counts.add("dynamodb_writes")
        self.stores.claimed.discard(value)


class Leases:
    def __init__(self, stores: Stores) -> None:
        self.stores = stores

    def acquire(self, name: str, owner: str, ttl_seconds: float) -> bool:
        return self.stores.acquire(name, owner, ttl_seconds)

    def release(self, name: str, owner: str) -> bool:
        return self.stores.release(name, owner)


class History:
    """Deal links and runs: nothing is done yet for the deals of this cycle (each read still costs)."""

    def __init__(self, counts: Counts) -> None:
        self.counts = counts

    def get(self, portal_id: str, deal_id: str, trigger_key: str = "") -> DealLink | None:
        self.counts.add("dynamodb_reads")
        return None

    def latest_for_object(self, portal_id: str, object_type: str, object_id: str) -> Run | None:
        self.counts.add("dynamodb_reads")
        return None


class TriggerLog:
    """The trigger log: one write per decision recorded."""

    def __init__(self, counts: Counts) -> None:
        self.counts = counts

    def record(self, entry: TriggerRecord) -> None:
        self.counts.add("dynamodb_writes")


class Queue:
    """The poll queue and the jobs queue: messages held in memory, requests counted."""

    def __init__(self, counts: Counts) -> None:
        self.counts = counts
        self.polls: list[PollMessage] = []

    def send_batch(self, messages: list[PollMessage]) -> None:
        self.counts.add("sqs_requests")
        self.counts.add("sqs_messages", len(messages))
        self.polls.extend(messages)

    def send(self, message: PollMessage) -> None:
        self.counts.add("sqs_requests")
        self.counts.add("sqs_messages")
        self.counts.add("continuations")
        self.polls.append(message)


def simulate(portals: int, with_rules: float, changed: dict[str, int], seed: int = 14) -> Counts:
    """One cycle over `portals` portals (the share `with_rules` has trigger stages) where portal p has
    `changed[p]` deals moved into a trigger stage since its cursor."""
    counts = Counts()
    clock = Clock()
    rng = random.Random(seed)
    ids = [str(100_000 + index) for index in range(portals)]
    has_rules = {portal: rng.random() < with_rules for portal in ids}
    stores = Stores(counts, clock)
    for portal in ids:
        stores.cursors[portal] = str(NOW_MS - CYCLE_MS)  # where the previous cycle left it
    searches = {portal: Search([NOW_MS - CYCLE_MS + rng.randrange(CYCLE_MS) for _ in range(changed.get(portal, 0))],
                               counts, clock) for portal in ids}

    def rules_for(portal_id: str) -> list[StageRule]:
        counts.add("dynamodb_reads")
        return RULES if has_rules[portal_id] else []

    def enqueue(portal_id: str, deal_id: str, rule: StageRule, source: str = "poller") -> Run:
        counts.add("dynamodb_writes", 2)  # the run and its pointer
        counts.add("sqs_requests")
        counts.add("sqs_messages")
        counts.add("jobs_enqueued")
        clock.now += ENQUEUE_SECONDS
        return Run(run_id=f"r{counts.tally['jobs_enqueued']}", portal_id=portal_id, kind="create_document",
                   trigger="poller", created_at=clock.now)

    history = History(counts)
    decider = TriggerDecider(deal_links=history, runs=history, claims=Claims(stores), leases=Leases(stores),
                             enqueue=enqueue, log=TriggerLog(counts), clock=clock)
    poller = Poller(portals=list, rules_for=rules_for, search_for=searches.__getitem__, cursors=stores,
                    decider=decider, clock=clock)
    poll = PortalPoll(poller, rules_for=rules_for, search_for=searches.__getitem__, cursors=stores,
                      leases=Leases(stores), clock=clock, reserve_seconds=RESERVE_SECONDS)
    queue = Queue(counts)

    counts.add("lambda_invocations")  # the schedule's tick
    counts.add("dynamodb_reads", portals)  # the registry
    dispatch(ids, lambda portal: bool(rules_for(portal)), queue)
    while queue.polls:
        message = queue.polls.pop(0)
        counts.add("lambda_invocations")
        counts.add("sqs_requests", 2)  # the event source's receive and delete (batch size 1)
        clock.now = NOW_MS / 1000
        started = clock.now
        outcome = poll.run(message, f"m{counts.tally['lambda_invocations']}",
                           lambda started=started: LAMBDA_TIMEOUT_SECONDS - (clock.now - started))
        counts.add("window_splits", outcome.splits)
        if outcome.continuation is not None:
            queue.send(outcome.continuation)
    # The simulation checks itself: every changed deal of a portal with rules was enqueued, once.
    assert counts.tally["jobs_enqueued"] == sum(changed.get(p, 0) for p in ids if has_rules[p]), counts.tally
    return counts


COLUMNS = [("lambda_invocations", "Lambda invocations"), ("sqs_requests", "SQS requests"),
           ("sqs_messages", "SQS messages sent"), ("hubspot_search_calls", "HubSpot search calls"),
           ("dynamodb_reads", "DynamoDB item reads"), ("dynamodb_writes", "DynamoDB item writes"),
           ("jobs_enqueued", "jobs enqueued"), ("window_splits", "window splits"),
           ("continuations", "continuations")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--portals", type=int, default=10_000)
    parser.add_argument("--with-rules", type=float, default=0.8, help="share of portals with trigger stages")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--import-deals", type=int, default=25_000,
                        help="deals each of the busy cycle's 5 importing portals changed")
    args = parser.parse_args(argv)
    logger.setLevel("WARNING")  # the polls' own log lines would bury the table
    rng = random.Random(args.seed)
    ids = [str(100_000 + index) for index in range(args.portals)]
    scenarios = {
        "quiet: 1 in 100 portals has 1 changed deal": {p: 1 for p in ids if rng.random() < 0.01},
        f"busy: every portal 20 changed deals, 5 portals a {args.import_deals:,}-deal import": {
            **{p: 20 for p in ids}, **{p: args.import_deals for p in ids[:5]}},
    }
    print(f"One poller cycle (a tick and its polls) at {args.portals:,} portals, "
          f"{args.with_rules:.0%} of them with trigger stages.\n")
    print("| cycle | " + " | ".join(title for _, title in COLUMNS) + " |")
    print("|---" * (len(COLUMNS) + 1) + "|")
    for name, changed in scenarios.items():
        counts = simulate(args.portals, args.with_rules, changed, args.seed)
        print(f"| {name} | " + " | ".join(f"{counts.tally[key]:,}" for key, _ in COLUMNS) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
