#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""test_mn_hairpin.py with --dataplane iptables: a pod reaching itself
through its ClusterIP (masqueraded by the BERTH-SEP- chain's hairpin mark)."""
import os
import runpy

os.environ["BERTH_DATAPLANE"] = "iptables"
runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                            "test_mn_hairpin.py"), run_name="__main__")
