"""What the tests stand on: polling with deadlines, real daemons, in-process nodes, fakes of the layers below.

- :mod:`.polling`: waiting for a condition, with a generous deadline (never a
  pass or fail on how fast the machine is);
- :mod:`.daemons`: real ``p2pnet daemon`` processes on their own 127.0.0.N;
- :mod:`.inproc`: real nodes inside the test's trio run;
- :mod:`.fakenet`: an in-memory network under the node (stem, sync, the node);
- :mod:`.fakenode`: an in-process fake control API under the TUI;
- :mod:`.stock_peer`: stock py-libp2p peers, what an attacker runs;
- :mod:`.partition`: the partition-and-heal scenario, shared with bench/partition.py.
"""
