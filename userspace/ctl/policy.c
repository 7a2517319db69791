// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * berthctl bpf policy POD: what NetworkPolicy lets a pod of this node do,
 * read from the pinned policy and endpoints maps; identity numbers named
 * from the agent's <root>/policy.json (policyagent.h) when it has them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <json-c/json.h>

#include <berth/abi/pins.h>
#include <berth/abi/policy.h>
#include <berth/abi/route.h>

#include "ctl.h"

#define DEFAULT_ROOT "/var/lib/berth"
#define MAX_ENTRIES (1 << 20) /* bound on the map walk */

static int open_pin(const char *node, const char *name)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s/%s", BERTH_BPFFS_ROOT, node, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		fprintf(stderr, "berthctl: open %s: %s\n", path,
			strerror(errno));
	return fd;
}

/* <root>/policy.json, or NULL (then numbers stay numbers). */
static json_object *load_state(void)
{
	const char *root = getenv("BERTH_ROOT");
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/policy.json",
		 root && *root ? root : DEFAULT_ROOT);
	return json_object_from_file(path);
}

static json_object *state_array(json_object *st, const char *key)
{
	json_object *a;

	if (!st || !json_object_object_get_ex(st, key, &a) ||
	    !json_object_is_type(a, json_type_array))
		return NULL;
	return a;
}

static const char *str_of(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ?
		       json_object_get_string(v) :
		       NULL;
}

/* The pod object of the state whose field key is val, or NULL. */
static json_object *find_pod(json_object *st, const char *ns, const char *name,
			     const char *ip)
{
	json_object *pods = state_array(st, "pods");
	size_t n = pods ? json_object_array_length(pods) : 0;

	for (size_t i = 0; i < n; i++) {
		json_object *p = json_object_array_get_idx(pods, i);
		const char *pns = str_of(p, "namespace"),
			   *pn = str_of(p, "name"), *pip = str_of(p, "ip");

		if (ip && pip && !strcmp(ip, pip))
			return p;
		if (!ip && pns && pn && !strcmp(ns, pns) && !strcmp(name, pn))
			return p;
	}
	return NULL;
}

static json_object *find_identity(json_object *st, uint32_t id)
{
	json_object *ids = state_array(st, "identities"), *v;
	size_t n = ids ? json_object_array_length(ids) : 0;

	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_array_get_idx(ids, i);

		if (json_object_object_get_ex(o, "id", &v) &&
		    (uint32_t)json_object_get_int64(v) == id)
			return o;
	}
	return NULL;
}

/* POD as an address or NS/NAME -> its address (network order). */
static int resolve_pod(json_object *st, const char *pod, uint32_t *ip)
{
	char ns[254];
	const char *slash = strchr(pod, '/'), *s;
	json_object *p;
	struct in_addr a;

	if (inet_pton(AF_INET, pod, &a) == 1) {
		*ip = a.s_addr;
		return 0;
	}
	if (!slash || slash == pod || !slash[1] ||
	    (size_t)(slash - pod) >= sizeof(ns)) {
		fprintf(stderr,
			"berthctl: pod '%s': want NAMESPACE/NAME or an IPv4 address\n",
			pod);
		return -EINVAL;
	}
	memcpy(ns, pod, slash - pod);
	ns[slash - pod] = '\0';
	if (!st) {
		fprintf(stderr,
			"berthctl: no policy.json under $BERTH_ROOT (default %s): give the pod's address\n",
			DEFAULT_ROOT);
		return -ENOENT;
	}
	p = find_pod(st, ns, slash + 1, NULL);
	s = p ? str_of(p, "ip") : NULL;
	if (!s || inet_pton(AF_INET, s, &a) != 1) {
		fprintf(stderr, "berthctl: pod %s: not in the agent's state\n",
			pod);
		return -ENOENT;
	}
	*ip = a.s_addr;
	return 0;
}

static int cmp_key(const void *a, const void *b)
{
	const struct berth_policy_key *x = a, *y = b;

	if (x->dir != y->dir)
		return x->dir - y->dir;
	if (x->identity != y->identity)
		return ntohl(x->identity) < ntohl(y->identity) ? -1 : 1;
	if (x->proto != y->proto)
		return x->proto - y->proto;
	if (x->port != y->port)
		return ntohs(x->port) < ntohs(y->port) ? -1 : 1;
	return (int)x->prefixlen - (int)y->prefixlen;
}

struct keys {
	struct berth_policy_key *v;
	size_t n, cap;
};

static int keys_add(struct keys *ks, const struct berth_policy_key *k)
{
	if (ks->n == ks->cap) {
		size_t cap = ks->cap ? 2 * ks->cap : 64;
		struct berth_policy_key *t = realloc(ks->v, cap * sizeof(*t));

		if (!t)
			return -ENOMEM;
		ks->v = t;
		ks->cap = cap;
	}
	ks->v[ks->n++] = *k;
	return 0;
}

static const uint8_t head_protos[BERTH_POLICY_NPROTO] = BERTH_POLICY_PROTOS;

/*
 * A policy hash entry of ip in the compiler's form (abi/policy.h): a port
 * entry is one allow; a head holds the allows without a port (any proto,
 * any port of a proto).
 */
static int hash_entry_keys(int fd, const struct berth_policy_hkey *hk,
			   struct keys *ks)
{
	struct berth_policy_key k = { .ep_ip = hk->ep_ip,
				      .identity = htonl(hk->identity),
				      .dir = hk->dir,
				      .proto = hk->proto,
				      .port = hk->port };
	struct berth_policy_val v;
	int err = 0;

	if (bpf_map_lookup_elem(fd, hk, &v))
		return 0; /* removed meanwhile */
	if (hk->proto) {
		k.prefixlen = BERTH_POLICY_PREFIX_FULL;
		return keys_add(ks, &k);
	}
	if (v.flags & BERTH_POLICY_F_ALLOW) {
		k.prefixlen = BERTH_POLICY_PREFIX_ANY_PROTO;
		err = keys_add(ks, &k);
	}
	for (int i = 0; !err && i < BERTH_POLICY_NPROTO; i++) {
		if (!(v.flags & BERTH_POLICY_F_ANY_PORT(i)))
			continue;
		k.prefixlen = BERTH_POLICY_PREFIX_ANY_PORT;
		k.proto = head_protos[i];
		err = keys_add(ks, &k);
	}
	return err;
}

/* The allows of endpoint ip in the policy hash (hfd) and ranges (rfd). */
static int read_entries(int hfd, int rfd, uint32_t ip,
			struct berth_policy_key **out, size_t *nout)
{
	struct berth_policy_hkey hcur, hnext, *hprev = NULL;
	struct berth_policy_key cur, next, *prev = NULL;
	struct keys ks = { 0 };
	size_t seen = 0;
	int err = 0;

	while (!err && seen++ < MAX_ENTRIES &&
	       !bpf_map_get_next_key(hfd, hprev, &hnext)) {
		hcur = hnext;
		hprev = &hcur;
		if (hcur.ep_ip == ip)
			err = hash_entry_keys(hfd, &hcur, &ks);
	}
	while (!err && rfd >= 0 && seen++ < 2 * MAX_ENTRIES &&
	       !bpf_map_get_next_key(rfd, prev, &next)) {
		cur = next;
		prev = &cur;
		if (cur.ep_ip == ip)
			err = keys_add(&ks, &cur);
	}
	if (err) {
		free(ks.v);
		return err;
	}
	if (ks.n)
		qsort(ks.v, ks.n, sizeof(*ks.v), cmp_key);
	*out = ks.v;
	*nout = ks.n;
	return 0;
}

static const char *reserved_name(uint32_t id)
{
	switch (id) {
	case BERTH_ID_ANY:
		return "any";
	case BERTH_ID_HOST:
		return "host";
	case BERTH_ID_WORLD:
		return "world";
	case BERTH_ID_REMOTE_NODE:
		return "remote-node";
	}
	return NULL;
}

/* "ns=x pod=a,tier=db", "cidr 10.0.0.0/8", "any" ... into buf. */
static const char *peer_str(json_object *st, uint32_t id, char *buf, size_t len)
{
	json_object *o = find_identity(st, id), *labels;
	const char *r = reserved_name(id), *cidr;
	size_t k;

	if (r)
		return r;
	if (!o) {
		snprintf(buf, len, "identity %u", id);
		return buf;
	}
	cidr = str_of(o, "cidr");
	if (cidr) {
		snprintf(buf, len, "cidr %s", cidr);
		return buf;
	}
	k = snprintf(buf, len, "ns=%s", str_of(o, "namespace") ?: "?");
	if (json_object_object_get_ex(o, "labels", &labels) &&
	    json_object_is_type(labels, json_type_object)) {
		const char *sep = " ";

		json_object_object_foreach(labels, lk, lv)
		{
			if (k < len)
				k += snprintf(buf + k, len - k, "%s%s=%s", sep,
					      lk, json_object_get_string(lv));
			sep = ",";
		}
	}
	return buf;
}

static const char *proto_name(uint8_t p)
{
	return p == IPPROTO_TCP	 ? "TCP" :
	       p == IPPROTO_UDP	 ? "UDP" :
	       p == IPPROTO_SCTP ? "SCTP" :
				   "?";
}

/* The ports a key covers: [lo, hi]; 0..65535 for any. */
static void key_ports(const struct berth_policy_key *k, uint16_t *lo,
		      uint16_t *hi)
{
	uint32_t bits = k->prefixlen - BERTH_POLICY_PREFIX_ANY_PORT;
	uint16_t mask = bits >= 16 ? 0xffff : (uint16_t)(0xffff << (16 - bits));

	if (k->prefixlen <= BERTH_POLICY_PREFIX_ANY_PORT) {
		*lo = 0;
		*hi = 65535;
		return;
	}
	*lo = ntohs(k->port) & mask;
	*hi = *lo | (uint16_t)~mask;
}

static json_object *entry_json(json_object *st,
			       const struct berth_policy_key *k)
{
	json_object *o = json_object_new_object(), *id;
	uint32_t ident = ntohl(k->identity);
	char peer[512];
	uint16_t lo, hi;

	json_object_object_add(
		o, "direction",
		json_object_new_string(
			k->dir == BERTH_POLICY_INGRESS ? "ingress" : "egress"));
	json_object_object_add(o, "identity", json_object_new_int64(ident));
	json_object_object_add(o, "peer",
			       json_object_new_string(peer_str(st, ident, peer,
							       sizeof(peer))));
	id = find_identity(st, ident);
	if (id && str_of(id, "namespace"))
		json_object_object_add(
			o, "namespace",
			json_object_new_string(str_of(id, "namespace")));
	if (id && json_object_object_get_ex(id, "labels", NULL))
		json_object_object_add(
			o, "labels",
			json_object_get(json_object_object_get(id, "labels")));
	if (id && str_of(id, "cidr"))
		json_object_object_add(
			o, "cidr", json_object_new_string(str_of(id, "cidr")));
	if (k->prefixlen <= BERTH_POLICY_PREFIX_ANY_PROTO) {
		json_object_object_add(o, "proto",
				       json_object_new_string("any"));
		return o;
	}
	json_object_object_add(o, "proto",
			       json_object_new_string(proto_name(k->proto)));
	if (k->prefixlen <= BERTH_POLICY_PREFIX_ANY_PORT)
		return o;
	key_ports(k, &lo, &hi);
	json_object_object_add(o, "port", json_object_new_int(lo));
	if (hi != lo)
		json_object_object_add(o, "end_port", json_object_new_int(hi));
	return o;
}

static void print_entry(json_object *e)
{
	json_object *port, *end;
	char ports[32] = "any";

	if (json_object_object_get_ex(e, "port", &port)) {
		if (json_object_object_get_ex(e, "end_port", &end))
			snprintf(ports, sizeof(ports), "%d-%d",
				 json_object_get_int(port),
				 json_object_get_int(end));
		else
			snprintf(ports, sizeof(ports), "%d",
				 json_object_get_int(port));
	}
	printf("%-8s %-5s %-5s %-11s %s\n", str_of(e, "direction"),
	       !strcmp(str_of(e, "direction"), "ingress") ? "from" : "to",
	       str_of(e, "proto"), ports, str_of(e, "peer"));
}

static json_object *report(json_object *st, uint32_t ip,
			   const struct berth_endpoint_info *ep,
			   const struct berth_policy_key *keys, size_t n)
{
	json_object *o = json_object_new_object(), *rules, *p;
	char buf[INET_ADDRSTRLEN];
	struct in_addr a = { .s_addr = ip };

	inet_ntop(AF_INET, &a, buf, sizeof(buf));
	p = find_pod(st, NULL, NULL, buf);
	if (p) {
		char name[512];

		snprintf(name, sizeof(name), "%s/%s",
			 str_of(p, "namespace") ?: "?",
			 str_of(p, "name") ?: "?");
		json_object_object_add(o, "pod", json_object_new_string(name));
	}
	json_object_object_add(o, "ip", json_object_new_string(buf));
	json_object_object_add(o, "identity",
			       json_object_new_int64(ep->identity));
	json_object_object_add(
		o, "ingress_enforced",
		json_object_new_boolean(ep->flags &
					BERTH_EP_F_INGRESS_ENFORCED));
	json_object_object_add(o, "egress_enforced",
			       json_object_new_boolean(
				       ep->flags & BERTH_EP_F_EGRESS_ENFORCED));
	rules = json_object_new_array();
	for (size_t i = 0; i < n; i++)
		json_object_array_add(rules, entry_json(st, &keys[i]));
	json_object_object_add(o, "allows", rules);
	return o;
}

static void print_report(json_object *r)
{
	json_object *allows = json_object_object_get(r, "allows");
	bool in = json_object_get_boolean(
		     json_object_object_get(r, "ingress_enforced")),
	     eg = json_object_get_boolean(
		     json_object_object_get(r, "egress_enforced"));

	printf("pod %s %s identity %s\n", str_of(r, "pod") ?: "?",
	       str_of(r, "ip"), str_of(r, "identity"));
	size_t nin = 0, neg = 0;

	for (size_t i = 0; i < json_object_array_length(allows); i++) {
		const char *d = str_of(json_object_array_get_idx(allows, i),
				       "direction");

		if (d && !strcmp(d, "ingress"))
			nin++;
		else
			neg++;
	}
	printf("ingress: %s\n", !in ? "not enforced (all allowed)" :
				 nin ? "enforced, what is listed below" :
				       "enforced, nothing allowed");
	printf("egress:  %s\n", !eg ? "not enforced (all allowed)" :
				 neg ? "enforced, what is listed below" :
				       "enforced, nothing allowed");
	for (size_t i = 0; i < json_object_array_length(allows); i++)
		print_entry(json_object_array_get_idx(allows, i));
}

int cmd_policy(const char *node, const char *pod, bool json)
{
	json_object *st = load_state(), *r;
	struct berth_endpoint_info ep;
	struct berth_policy_key *keys = NULL;
	int efd = -1, pfd = -1, rfd = -1, ret = 1;
	size_t n = 0;
	uint32_t ip;

	if (resolve_pod(st, pod, &ip))
		goto out;
	efd = open_pin(node, BERTH_MAP_ENDPOINTS);
	pfd = open_pin(node, BERTH_MAP_POLICY);
	if (efd < 0 || pfd < 0)
		goto out;
	/* endPort ranges; without the map (reported) the rest is shown */
	rfd = open_pin(node, BERTH_MAP_POLICY_RANGES);
	if (bpf_map_lookup_elem(efd, &ip, &ep)) {
		fprintf(stderr, "berthctl: %s is not a pod of node %s\n", pod,
			node);
		goto out;
	}
	if (read_entries(pfd, rfd, ip, &keys, &n)) {
		fprintf(stderr,
			"berthctl: read the policy map: out of memory\n");
		goto out;
	}
	r = report(st, ip, &ep, keys, n);
	if (json)
		printf("%s\n", json_object_to_json_string_ext(
				       r, JSON_C_TO_STRING_PLAIN));
	else
		print_report(r);
	json_object_put(r);
	ret = 0;
out:
	free(keys);
	if (efd >= 0)
		close(efd);
	if (pfd >= 0)
		close(pfd);
	if (rfd >= 0)
		close(rfd);
	json_object_put(st);
	return ret;
}
