"""Signals that let other domains react to order events without orders importing them."""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

# Sent before the order is locked, with `account_id=int, event_type=str`. Receivers read what
# they will need once the event is recorded (e.g. the account's rules), so that reading does
# not happen while other writers wait. The return values reach every `event_recorded`
# receiver as `prepared`, a dict keyed by the `event_arriving` receiver that returned them.
event_arriving = _signals.signal("event-arriving")

# Sent inside the transaction that records an event, before commit, with
# `event=OrderEvent, order=Order, prepared=dict`. Receivers add rows to db.session (never
# commit) and return the list of Message rows they planned, so they are written atomically
# with the event.
event_recorded = _signals.signal("event-recorded")

# Sent after that transaction committed, with `event=OrderEvent, messages=list[Message]`.
# Receivers enqueue work (e.g. a dispatch job); they must tolerate Redis being down.
event_committed = _signals.signal("event-committed")
