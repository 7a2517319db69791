#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""test_mn_crossnode.py with every agent on --dataplane iptables: pod to
pod across nodes over the kernel's VXLAN and a ClusterIP whose backends are
on the other node, with the same assertions as in BPF mode."""
import os
import runpy

os.environ["BERTH_DATAPLANE"] = "iptables"
runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                            "test_mn_crossnode.py"), run_name="__main__")
