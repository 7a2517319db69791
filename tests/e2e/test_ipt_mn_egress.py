#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""test_mn_egress.py with --dataplane iptables: pod traffic leaving the
cluster is masqueraded by the BERTH-POD-MASQ chain instead of BPF."""
import os
import runpy

os.environ["BERTH_DATAPLANE"] = "iptables"
runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                            "test_mn_egress.py"), run_name="__main__")
