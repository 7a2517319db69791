/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Where maps are pinned: BERTH_BPFFS_ROOT/<node>/<map name>. */
#ifndef BERTH_ABI_PINS_H
#define BERTH_ABI_PINS_H

#define BERTH_BPFFS_ROOT "/sys/fs/bpf/berth"

#define BERTH_MAP_SERVICES "services"
#define BERTH_MAP_BACKENDS "backends"
#define BERTH_MAP_REV_NAT "rev_nat"
#define BERTH_MAP_AFFINITY "affinity"
#define BERTH_MAP_MAGLEV "maglev"
#define BERTH_MAP_CT "ct"
#define BERTH_MAP_METRICS "metrics"
#define BERTH_MAP_ENDPOINTS "endpoints"
#define BERTH_MAP_IPCACHE "ipcache"
#define BERTH_MAP_NODE "node"
#define BERTH_MAP_NAT "nat"
#define BERTH_MAP_POLICY "policy"
#define BERTH_MAP_POLICY_RANGES "policy_ranges"
#define BERTH_MAP_EVENTS "events"
#define BERTH_MAP_EVENTS_CFG "events_cfg"
#define BERTH_MAP_EVENTS_LOST "events_lost"

/* tc filter identity on clsact, so a restarted agent replaces its own filters. */
#define BERTH_TC_HANDLE 0xbe27
#define BERTH_TC_PRIORITY 1

#endif
