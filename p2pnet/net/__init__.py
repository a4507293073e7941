"""The node's network: one private-network libp2p host per swarm, and the protocols on it.

* :func:`open_swarm_host` / :class:`SwarmHost`: a libp2p host in one swarm's
  private network with anonymous gossip and peer exchange (py-libp2p, fixed
  where it needs fixing: :mod:`p2pnet.net.libp2p_patches` and
  ``docs/gossip-notes.md``);
* relays inside the swarm (circuit relay v2) and hole punching (DCUtR), on
  every host (``_relay``, docs/nat.md);
* :class:`StemRelay`: the Dandelion++ stem before gossip (``/p2pnet/stem/1``);
* :class:`SwarmSync`: catch-up sync between two peers (``/p2pnet/sync/1``);
* :class:`Guard`: the node's ban list, shared by its hosts; :class:`TokenBucket`,
  the rate limit every per-peer defence uses;
* :class:`PortMapper`: the swarm's port forwarded by the home router (UPnP-IGD, else NAT-PMP);
* :func:`supervised`: how every long-running task runs, so none can end the daemon.

Nothing here knows the store or the node.
"""

from ._addrs import private_ip
from ._bucket import Rate, TokenBucket
from ._guard import Ban, Guard, GuardParams
from ._host import SwarmHost
from ._lan import LanFinder
from ._open import open_swarm_host, peer_id_from_seed
from ._params import GossipParams
from ._peer_exchange import PEERS_PROTOCOL
from ._pubsub import message_id
from ._stem import STEM_PROTOCOL, StemRelay
from ._stream import RELAY_DIAL_DELAY, Stream, StreamError, SwarmConnectError
from ._sync import SYNC_INTERVAL, SYNC_PROTOCOL, SwarmSync, SyncStats
from ._tasks import RESTART_MAX, RESTART_MIN, Failures, supervised, task_name
from ._upnp import PortMapper, UpnpState

__all__ = [
    "LanFinder",
    "PEERS_PROTOCOL",
    "PortMapper",
    "RELAY_DIAL_DELAY",
    "RESTART_MAX",
    "RESTART_MIN",
    "STEM_PROTOCOL",
    "SYNC_INTERVAL",
    "SYNC_PROTOCOL",
    "Ban",
    "Failures",
    "GossipParams",
    "Guard",
    "GuardParams",
    "Rate",
    "StemRelay",
    "Stream",
    "StreamError",
    "SwarmConnectError",
    "SwarmHost",
    "SwarmSync",
    "SyncStats",
    "TokenBucket",
    "UpnpState",
    "message_id",
    "open_swarm_host",
    "private_ip",
    "peer_id_from_seed",
    "supervised",
    "task_name",
]
