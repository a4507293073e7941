"""The network lab: namespaces with veth pairs, an internet, home routers doing NAT, hosts behind them.

Used by the NAT traversal tests (issue #15).  Root, ``ip`` and ``nft`` are
needed; without them :func:`lab_unavailable` says why and the tests skip.
"""

from ._lab import ECHO, PREFIX, Host, Lab, Nat, Router, lab_unavailable, miniupnpd_unavailable, open_lab

__all__ = ["ECHO", "PREFIX", "Host", "Lab", "Nat", "Router", "lab_unavailable", "miniupnpd_unavailable", "open_lab"]
