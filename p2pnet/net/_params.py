"""The tunables of one swarm host, shared by its gossip, its peer exchange and its dials."""

from __future__ import annotations

from dataclasses import dataclass, field

from ._bucket import Rate

__all__ = ["GossipParams"]


@dataclass(frozen=True)
class GossipParams:
    """Tunables of one swarm host; the defaults are the production settings.

    Score semantics are py-libp2p's (``libp2p/pubsub/score.py``): each invalid
    message subtracts ``invalid_message_weight`` (up to ``invalid_message_cap``
    messages), decayed by ``invalid_message_decay`` every heartbeat. Below
    ``gossip_threshold`` we stop forwarding to a peer; below
    ``publish_threshold`` its messages are dropped unvalidated and we send it
    nothing; below ``graylist_threshold`` its GRAFTs are refused.

    Attributes:
        d: Target mesh degree (``d_low``/``d_high`` bound it).
        heartbeat_interval: Seconds between gossipsub heartbeats.
        gossip_window: Heartbeats of message ids advertised in IHAVE.
        gossip_history: Heartbeats a message stays answerable to IWANT.
        seen_ttl: Seconds a message id stays in the duplicate filter.
        outbound_queue_size: RPCs queued per peer before drops.
        publish_backpressure_timeout: Longest :meth:`SwarmHost.publish` waits
            for a half-full peer queue to drain.
        connect_timeout: Seconds before a dial or a peer exchange gives up.
        target_peers: Peer exchange dials until this many connections (0:
            never dial on its own).
        peer_exchange_interval: Seconds between peer exchange rounds.
        gossip_limit: Valid objects a peer may be the first to deliver to us
            (docs/gossip-notes.md, "Defences"); over it they are dropped
            unseen and each costs the peer ``flood_penalty`` (P5).
        flood_penalty: Behaviour penalty per object dropped over the limit.
        promise_timeout: Seconds a peer has to deliver what it advertised and
            we asked for; each broken promise costs ``broken_promise_penalty`` (P5).
        broken_promise_penalty: Behaviour penalty per broken promise.
        stem_limit: Stem frames a peer may send us; over it they are dropped.
        max_inbound_per_ip: Inbound connections from one IP address.
        max_conns_per_peer: Connections to one peer, both directions.
        max_inbound_streams_per_peer: Streams one peer may hold open to us.
    """

    d: int = 6
    d_low: int = 5
    d_high: int = 12
    heartbeat_interval: int = 1
    gossip_window: int = 3
    gossip_history: int = 5
    seen_ttl: int = 120
    outbound_queue_size: int = 10_000
    publish_backpressure_timeout: float = 10.0
    connect_timeout: float = 10.0
    target_peers: int = 8
    peer_exchange_interval: float = 5.0
    invalid_message_weight: float = 5.0
    invalid_message_cap: float = 20.0
    invalid_message_decay: float = 0.995
    behaviour_penalty_weight: float = 1.0
    behaviour_penalty_threshold: float = 10.0
    behaviour_penalty_decay: float = 0.99
    gossip_threshold: float = -25.0
    publish_threshold: float = -50.0
    graylist_threshold: float = -50.0
    gossip_limit: Rate = field(default_factory=lambda: Rate(rate=20.0, burst=200.0))
    flood_penalty: float = 0.5
    promise_timeout: float = 3.0
    broken_promise_penalty: float = 1.0
    stem_limit: Rate = field(default_factory=lambda: Rate(rate=20.0, burst=1000.0))
    max_inbound_per_ip: int = 4
    max_conns_per_peer: int = 3
    max_inbound_streams_per_peer: int = 32
