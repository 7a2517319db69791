/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The maps every program shares, pinned by name under the agent's pin root
 * (/sys/fs/bpf/berth/<node>/). Sizes here are defaults; the agent sets the
 * real ones before load. Key and value layouts: include/berth/abi/.
 */
#ifndef BERTH_BPF_MAPS_H
#define BERTH_BPF_MAPS_H

#include <berth/abi/ct.h>
#include <berth/abi/events.h>
#include <berth/abi/lb.h>
#include <berth/abi/metrics.h>
#include <berth/abi/policy.h>
#include <berth/abi/route.h>

/* {vip, port, proto, slot} -> service (slot 0) or backend id; agent writes */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct berth_svc_key);
	__type(value, struct berth_svc_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} services SEC(".maps");

/* backend id -> address and flags; agent writes */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct berth_backend);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} backends SEC(".maps");

/* rev_nat id -> frontend replies come from; agent writes */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct berth_rev_nat);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} rev_nat SEC(".maps");

/* {client ip, rev_nat id} -> backend chosen last; from_pod writes */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct berth_affinity_key);
	__type(value, struct berth_affinity_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} affinity SEC(".maps");

struct berth_maglev_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	/* sized, not typed: clang emits only a forward declaration here */
	__uint(value_size, sizeof(struct berth_maglev_table));
};

/* rev_nat id -> maglev lookup table (inner array of one); agent writes */
struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct berth_maglev_inner);
} maglev SEC(".maps");

/* client 5-tuple + dir -> translation; from_pod writes, to_pod reads */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 262144);
	__type(key, struct berth_ct_key);
	__type(value, struct berth_ct_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ct SEC(".maps");

/* {reason, dir} -> packets, bytes per CPU; every program writes */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 256);
	__type(key, struct berth_metrics_key);
	__type(value, struct berth_metrics_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} metrics SEC(".maps");

/* local pod IP -> ifindex, MACs, identity; agent writes on CNI ADD */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __be32);
	__type(value, struct berth_endpoint_info);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} endpoints SEC(".maps");

/* CIDR -> identity, tunnel node IP, flags; agent writes from Node objects */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct berth_ipcache_key);
	__type(value, struct berth_ipcache_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ipcache SEC(".maps");

/* 0 -> this node's addresses, devices and port ranges; agent writes */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct berth_node_cfg);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} node SEC(".maps");

/* tuple + dir (BERTH_NAT_OUT/IN) -> SNAT rewrite; host, xdp_nodeport write */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 262144);
	__type(key, struct berth_ct_key);
	__type(value, struct berth_nat_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} nat SEC(".maps");

/* {local pod, peer identity, dir, proto, port} (abi/policy.h) -> allow or head flags; agent writes */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BERTH_POLICY_MAX_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct berth_policy_hkey);
	__type(value, struct berth_policy_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} policy SEC(".maps");

/* {local pod, peer identity, dir, proto, port prefix} -> allow, endPort ranges only; agent writes */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, BERTH_POLICY_RANGES_MAX_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct berth_policy_key);
	__type(value, struct berth_policy_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} policy_ranges SEC(".maps");

/* struct berth_event records (drops, traces); programs write, agent reads */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, BERTH_EVENTS_SIZE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} events SEC(".maps");

/* 0 -> what to report beyond drops (trace on/off); agent writes */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct berth_events_cfg);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} events_cfg SEC(".maps");

/* event type -> records lost to a full ring buffer, per CPU; programs write */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, BERTH_EVENTS_LOST_KEYS);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} events_lost SEC(".maps");

#endif
