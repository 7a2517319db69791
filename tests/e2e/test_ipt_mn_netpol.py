#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""The NetworkPolicy truth table (test_mn_netpol.py, helper H's) with every
agent on --dataplane iptables: the same 35 cases and model, enforced by
ipsets and BERTH-POLICY chains. Its BPF-only checks (berthctl bpf policy,
monitor drop events) must be skipped when multinode.iptables() is true."""
import os
import runpy
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TRUTH = os.path.join(HERE, "test_mn_netpol.py")
if not os.path.exists(TRUTH):
    print("SKIP: test_ipt_mn_netpol: no test_mn_netpol.py in this tree (issue 9's truth table)")
    sys.exit(77)
os.environ["BERTH_DATAPLANE"] = "iptables"
sys.argv[0] = TRUTH
runpy.run_path(TRUTH, run_name="__main__")
