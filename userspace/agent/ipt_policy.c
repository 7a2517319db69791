// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Compiled NetworkPolicy -> ipsets and filter chains (ipt_policy.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <berth/abi/policy.h>
#include <berth/abi/route.h>

#include "ipt_policy.h"
#include "ipt_render.h" /* berth_ipt_chain_name */

#define KEY_BITS_ID 64 /* prefixlen through ep_ip and identity */
#define KEY_BITS_PROTO 80 /* ... dir and proto */
#define KEY_BITS_ALL 96 /* ... and the port */

int berth_ipt_policy_chain(const char *name)
{
	return !strncmp(name, "BERTH-PI-", 9) || !strncmp(name, "BERTH-PE-", 9);
}

static void ip_str(uint32_t ip, char *buf)
{
	inet_ntop(AF_INET, &ip, buf, INET_ADDRSTRLEN);
}

static void pod_chain(uint32_t ip, uint8_t dir, char *out)
{
	char s[INET_ADDRSTRLEN];

	ip_str(ip, s);
	berth_ipt_chain_name(dir == BERTH_POLICY_INGRESS ? "BERTH-PI-" :
							   "BERTH-PE-",
			     s, out);
}

static bool in_prefix(uint32_t ip, uint32_t net, uint8_t prefix)
{
	uint32_t mask = prefix ? htonl(~0u << (32 - prefix)) : 0;

	return (ip & mask) == net;
}

/* hash:net cannot hold /0: two halves instead */
static void add_net(FILE *f, const char *set, uint32_t net, uint8_t prefix)
{
	char s[INET_ADDRSTRLEN];

	if (!prefix) {
		fprintf(f, "add %s 0.0.0.0/1\nadd %s 128.0.0.0/1\n", set, set);
		return;
	}
	ip_str(net, s);
	fprintf(f, "add %s %s/%u\n", set, s, prefix);
}

/* What the ipcache would give an identity of its own, inside net/prefix
 * (everything for WORLD): left out of the set. */
static void nomatch(FILE *f, const char *set,
		    const struct berth_ipt_policy_in *in, uint32_t net,
		    uint8_t prefix, bool world)
{
	const struct berth_policy_result *r = in->r;
	char s[INET_ADDRSTRLEN];

	for (size_t i = 0; i < r->ncidrs; i++) {
		const struct berth_policy_cidr *c = &r->cidrs[i];

		if (!c->prefix)
			continue; /* /0 is WORLD's own */
		if (world ||
		    (c->prefix > prefix && in_prefix(c->net, net, prefix))) {
			ip_str(c->net, s);
			fprintf(f, "add %s %s/%u nomatch\n", set, s, c->prefix);
		}
	}
	for (size_t i = 0; i < in->ids->npods; i++)
		if (world || in_prefix(in->ids->pods[i].ip, net, prefix)) {
			ip_str(in->ids->pods[i].ip, s);
			fprintf(f, "add %s %s/32 nomatch\n", set, s);
		}
	for (size_t i = 0; i < in->nnode_ips; i++)
		if (world || in_prefix(in->node_ips[i], net, prefix)) {
			ip_str(in->node_ips[i], s);
			fprintf(f, "add %s %s/32 nomatch\n", set, s);
		}
}

/* The members of identity id into set (type already chosen). */
static void members(FILE *f, const char *set,
		    const struct berth_ipt_policy_in *in, uint32_t id)
{
	char s[INET_ADDRSTRLEN];

	if (id == BERTH_ID_WORLD) {
		add_net(f, set, 0, 0);
		nomatch(f, set, in, 0, 0, true);
	} else if (id == BERTH_ID_REMOTE_NODE) {
		for (size_t i = 0; i < in->nnode_ips; i++)
			if (in->node_ips[i] != in->self_ip) {
				ip_str(in->node_ips[i], s);
				fprintf(f, "add %s %s\n", set, s);
			}
	} else if (id >= BERTH_ID_CIDR_MIN) {
		for (size_t i = 0; i < in->r->ncidrs; i++) {
			const struct berth_policy_cidr *c = &in->r->cidrs[i];

			if (c->id != id)
				continue;
			add_net(f, set, c->net, c->prefix);
			nomatch(f, set, in, c->net, c->prefix, false);
		}
	} else {
		for (size_t i = 0; i < in->ids->npods; i++)
			if (in->ids->pods[i].id == id) {
				ip_str(in->ids->pods[i].ip, s);
				fprintf(f, "add %s %s\n", set, s);
			}
	}
}

static bool seen_id(const struct berth_policy_result *r, size_t upto,
		    uint32_t id)
{
	for (size_t i = 0; i < upto; i++)
		if (ntohl(r->entries[i].key.identity) == id)
			return true;
	return false;
}

/* Every set an entry names, rebuilt aside and swapped in. */
static void render_sets(FILE *f, const struct berth_ipt_policy_in *in)
{
	const struct berth_policy_result *r = in->r;

	for (size_t i = 0; i < r->n; i++) {
		uint32_t id = ntohl(r->entries[i].key.identity);
		bool ip = id != BERTH_ID_WORLD && id < BERTH_ID_CIDR_MIN;
		const char *type = ip ? "hash:ip" : "hash:net";
		char set[32], tmp[32];

		if (id == BERTH_ID_ANY || id == BERTH_ID_HOST ||
		    seen_id(r, i, id))
			continue;
		snprintf(set, sizeof(set), BERTH_IPT_SET_PREFIX "%u", id);
		snprintf(tmp, sizeof(tmp), BERTH_IPT_SET_PREFIX "%u-t", id);
		fprintf(f,
			"create %s %s -exist\ncreate %s %s -exist\nflush %s\n",
			set, type, tmp, type, tmp);
		members(f, tmp, in, id);
		fprintf(f, "swap %s %s\ndestroy %s\n", tmp, set, tmp);
	}
}

/* One allow: peer set, protocol and port range from the key's prefix. */
static void render_allow(FILE *f, const struct berth_policy_key *k)
{
	uint32_t id = ntohl(k->identity);
	const char *pn = k->proto == IPPROTO_UDP  ? "udp" :
			 k->proto == IPPROTO_SCTP ? "sctp" :
						    "tcp";
	char chain[BERTH_IPT_CHAIN_MAX];

	pod_chain(k->ep_ip, k->dir, chain);
	fprintf(f, "-A %s", chain);
	if (id != BERTH_ID_ANY)
		fprintf(f, " -m set --match-set " BERTH_IPT_SET_PREFIX "%u %s",
			id, k->dir == BERTH_POLICY_INGRESS ? "src" : "dst");
	if (k->prefixlen >= KEY_BITS_PROTO)
		fprintf(f, " -p %s", pn);
	if (k->prefixlen > KEY_BITS_PROTO) {
		unsigned int l = k->prefixlen - KEY_BITS_PROTO;
		uint16_t mask = 0xffff << (16 - l), lo = ntohs(k->port) & mask,
			 hi = lo | (uint16_t)~mask;

		if (lo == hi)
			fprintf(f, " -m %s --dport %u", pn, lo);
		else
			fprintf(f, " -m %s --dport %u:%u", pn, lo, hi);
	}
	fprintf(f, " -j RETURN\n");
}

static bool rendered(const struct berth_ipt_policy_in *in, const char *name)
{
	char c[BERTH_IPT_CHAIN_MAX];

	for (size_t i = 0; i < in->r->neps; i++)
		for (uint8_t d = BERTH_POLICY_INGRESS; d <= BERTH_POLICY_EGRESS;
		     d++) {
			pod_chain(in->r->eps[i].ip, d, c);
			if (!strcmp(c, name))
				return true;
		}
	return false;
}

static void render_chains(FILE *f, const struct berth_ipt_policy_in *in,
			  const char *const *stale, size_t nstale)
{
	const struct berth_policy_result *r = in->r;
	char c[BERTH_IPT_CHAIN_MAX], ip[INET_ADDRSTRLEN], self[INET_ADDRSTRLEN];

	fprintf(f, "*filter\n:BERTH-POLICY - [0:0]\n");
	for (size_t i = 0; i < r->neps; i++)
		for (uint8_t d = BERTH_POLICY_INGRESS; d <= BERTH_POLICY_EGRESS;
		     d++) {
			pod_chain(r->eps[i].ip, d, c);
			fprintf(f, ":%s - [0:0]\n", c);
		}
	for (size_t i = 0; i < nstale; i++)
		if (!rendered(in, stale[i]))
			fprintf(f, ":%s - [0:0]\n", stale[i]);
	/* only new flows are judged, as in BPF */
	fprintf(f,
		"-A BERTH-POLICY -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN\n");
	for (size_t i = 0; i < r->neps; i++) {
		ip_str(r->eps[i].ip, ip);
		if (r->eps[i].flags & BERTH_EP_F_EGRESS_ENFORCED) {
			pod_chain(r->eps[i].ip, BERTH_POLICY_EGRESS, c);
			fprintf(f, "-A BERTH-POLICY -s %s/32 -j %s\n", ip, c);
		}
		if (r->eps[i].flags & BERTH_EP_F_INGRESS_ENFORCED) {
			pod_chain(r->eps[i].ip, BERTH_POLICY_INGRESS, c);
			fprintf(f, "-A BERTH-POLICY -d %s/32 -j %s\n", ip, c);
		}
	}
	ip_str(in->self_ip, self);
	for (size_t i = 0; i < r->neps; i++) {
		pod_chain(r->eps[i].ip, BERTH_POLICY_INGRESS, c);
		if (in->self_ip) /* BERTH_ID_HOST always passes */
			fprintf(f, "-A %s -s %s/32 -j RETURN\n", c, self);
	}
	for (size_t i = 0; i < r->n; i++)
		render_allow(f, &r->entries[i].key);
	for (size_t i = 0; i < r->neps; i++)
		for (uint8_t d = BERTH_POLICY_INGRESS; d <= BERTH_POLICY_EGRESS;
		     d++) {
			ip_str(r->eps[i].ip, ip);
			pod_chain(r->eps[i].ip, d, c);
			fprintf(f,
				"-A %s -m comment --comment \"%s %s: not allowed by any NetworkPolicy\" -j DROP\n",
				c, ip,
				d == BERTH_POLICY_INGRESS ? "ingress" :
							    "egress");
		}
	for (size_t i = 0; i < nstale; i++)
		if (!rendered(in, stale[i]))
			fprintf(f, "-X %s\n", stale[i]);
	fprintf(f, "COMMIT\n");
}

int berth_ipt_policy_render(const struct berth_ipt_policy_in *in,
			    const char *const *stale, size_t nstale,
			    char **ipset_text, char **ipt_text)
{
	size_t l1 = 0, l2 = 0;
	FILE *f1 = open_memstream(ipset_text, &l1);
	FILE *f2 = open_memstream(ipt_text, &l2);
	int err = 0;

	if (!f1 || !f2) {
		err = -ENOMEM;
	} else {
		render_sets(f1, in);
		render_chains(f2, in, stale, nstale);
	}
	if (f1 && fclose(f1))
		err = -ENOMEM;
	if (f2 && fclose(f2))
		err = -ENOMEM;
	if (err) {
		if (f1)
			free(*ipset_text);
		if (f2)
			free(*ipt_text);
	}
	return err;
}
