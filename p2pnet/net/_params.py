"""The tunables of one swarm host, shared by its gossip, its peer exchange and its dials."""

from __future__ import annotations

from dataclasses import dataclass

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
