#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""test_mn_nodeport.py with every agent on --dataplane iptables: NodePort
from outside with SNAT (Cluster) and the client's IP kept (Local), no
answer where a Local Service has no endpoint, healthCheckNodePort, a UDP
burst; the same assertions as in BPF mode, without the XDP counters."""
import os
import runpy

os.environ["BERTH_DATAPLANE"] = "iptables"
runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                            "test_mn_nodeport.py"), run_name="__main__")
