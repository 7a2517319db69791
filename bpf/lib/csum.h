/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Checksum arithmetic on values in registers (RFC 1624), for fields the
 * kernel helpers cannot reach, e.g. headers inside an ICMP error.
 */
#ifndef BERTH_BPF_CSUM_H
#define BERTH_BPF_CSUM_H

static __always_inline __u16 csum_fold32(__u64 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return ~sum & 0xffff;
}

/* New checksum after a 32-bit word covered by check changed from -> to. */
static __always_inline __u16 csum_replace4(__u16 check, __u32 from, __u32 to)
{
	__u64 sum = (__u16)~check;

	sum += (__u16) ~(from & 0xffff);
	sum += (__u16) ~(from >> 16);
	sum += to & 0xffff;
	sum += to >> 16;
	return csum_fold32(sum);
}

static __always_inline __u16 csum_replace2(__u16 check, __u16 from, __u16 to)
{
	__u64 sum = (__u16)~check;

	sum += (__u16)~from;
	sum += to;
	return csum_fold32(sum);
}

#endif
