/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the running kernel offers berth's datapath, found by probing (load a
 * tiny program, look a name up in the kernel's BTF), never by version.
 */
#ifndef BERTH_FEATURES_H
#define BERTH_FEATURES_H

#include <stdbool.h>
#include <stdio.h>

struct berth_features {
	char kernel[65]; /* uname -r */
	bool btf_vmlinux; /* /sys/kernel/btf/vmlinux: CO-RE works */
	bool sched_cls; /* tc programs */
	bool redirect_peer; /* bpf_redirect_peer: into a pod's netns directly */
	bool redirect_neigh; /* bpf_redirect_neigh: routed redirect */
	bool skb_change_tail; /* REJECT replies are built with it */
	bool tcx; /* tcx links (BPF_TCX_INGRESS) in the kernel */
	bool tcx_libbpf; /* ... and in this libbpf (1.3+); else clsact */
	bool xdp; /* XDP programs */
	bool xdp_veth; /* native XDP on veth */
	bool cgroup_sock_addr; /* connect4/sendmsg4 hooks (socket LB) */
	bool lru_hash;
	bool lpm_trie;
	bool hash_of_maps;
	bool percpu_hash;
	bool ringbuf;
};

/* Probe everything; a probe that cannot run counts as "not there". */
void berth_features_probe(struct berth_features *f);
/* One line for the log: "features: redirect_peer yes, tcx no, ..." */
void berth_features_log(const struct berth_features *f);
/* One "name yes|no" line per feature. */
void berth_features_text(const struct berth_features *f, FILE *out);
/* A JSON object {"name": true|false, ...} */
void berth_features_json(const struct berth_features *f, FILE *out);

#endif
