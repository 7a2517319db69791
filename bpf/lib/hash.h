/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A flow hash for Maglev: deterministic across nodes and restarts (no
 * per-boot seed, unlike skb->hash), so one flow picks one backend everywhere.
 */
#ifndef BERTH_BPF_HASH_H
#define BERTH_BPF_HASH_H

static __always_inline __u32 hash_mix32(__u32 h)
{
	/* murmur3's finalizer: every input bit affects every output bit */
	h ^= h >> 16;
	h *= 0x85ebca6b;
	h ^= h >> 13;
	h *= 0xc2b2ae35;
	h ^= h >> 16;
	return h;
}

static __always_inline __u32 hash_flow(__be32 saddr, __be32 daddr, __be16 sport,
				       __be16 dport, __u8 proto)
{
	__u32 h = 0x9e3779b9;

	h = hash_mix32(h ^ saddr);
	h = hash_mix32(h ^ daddr);
	h = hash_mix32(h ^ (((__u32)sport << 16) | dport));
	return hash_mix32(h ^ proto);
}

#endif
