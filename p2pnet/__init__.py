"""p2pnet: the node (trio + py-libp2p), its control API and the command line.

Importing this package is cheap and pulls in neither trio nor libp2p, so
front-ends (the TUI, the CLI) can use :mod:`p2pnet.api` without the node's stack.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
