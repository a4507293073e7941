"""The node: identity, store, one swarm runtime per joined swarm, and the control API it serves.

Importing this package imports trio and libp2p; front-ends use :mod:`p2pnet.api`.
"""

from ._daemon import recover, run_daemon
from ._errors import ApiError
from ._inbound import Source, Verified
from ._node import Node, NodeConfig

__all__ = ["ApiError", "Node", "NodeConfig", "Source", "Verified", "recover", "run_daemon"]
