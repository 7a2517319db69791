// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* ClusterIP and NodePort allocation against the Services in the store. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "../store/store.h"
#include "alloc.h"
#include "api.h"
#include "jsonutil.h"

#define NODEPORT_COUNT (BERTH_NODEPORT_MAX - BERTH_NODEPORT_MIN + 1)

struct used {
	uint32_t *ips;
	size_t nips, cap;
	unsigned char ports[NODEPORT_COUNT];
};

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static bool ip_used(const struct used *u, uint32_t ip)
{
	return u->nips &&
	       bsearch(&ip, u->ips, u->nips, sizeof(ip), cmp_u32) != NULL;
}

static void add_ip(struct used *u, const char *s)
{
	struct in_addr a;
	uint32_t *p;

	if (!s || inet_pton(AF_INET, s, &a) != 1)
		return;
	if (u->nips == u->cap) {
		u->cap = u->cap ? u->cap * 2 : 64;
		p = realloc(u->ips, u->cap * sizeof(*p));
		if (!p)
			return;
		u->ips = p;
	}
	u->ips[u->nips++] = ntohl(a.s_addr);
}

static void add_ports(struct used *u, struct json_object *svc)
{
	struct json_object *ports = berth_json_path(svc, "spec.ports");
	int64_t n = 0, hc;

	if (json_object_is_type(ports, json_type_array))
		n = json_object_array_length(ports);
	for (int64_t i = 0; i < n; i++) {
		int64_t np = berth_json_get_int(
			json_object_array_get_idx(ports, i), "nodePort", 0);

		if (np >= BERTH_NODEPORT_MIN && np <= BERTH_NODEPORT_MAX)
			u->ports[np - BERTH_NODEPORT_MIN] = 1;
	}
	hc = berth_json_get_int(berth_json_path(svc, "spec"),
				"healthCheckNodePort", 0);
	if (hc >= BERTH_NODEPORT_MIN && hc <= BERTH_NODEPORT_MAX)
		u->ports[hc - BERTH_NODEPORT_MIN] = 1;
}

/* Everything allocated by Services other than ns/name. */
static int load_used(struct berth_api *api, const char *ns, const char *name,
		     struct used *u)
{
	struct berth_kv_list l = { 0 };
	int64_t rev;
	bool more;
	size_t i;
	int err;

	err = berth_store_list(api->store, "/registry/core/services/", NULL, 0,
			       0, &l, &rev, &more);
	if (err)
		return err;
	for (i = 0; i < l.n; i++) {
		struct json_object *s = berth_json_parse(
			l.items[i].value, l.items[i].value_len, NULL);
		const char *sns = berth_json_path_str(s, "metadata.namespace");
		const char *sname = berth_json_path_str(s, "metadata.name");

		if (s && !(sns && sname && ns && name && !strcmp(sns, ns) &&
			   !strcmp(sname, name))) {
			add_ip(u, berth_json_path_str(s, "spec.clusterIP"));
			add_ports(u, s);
		}
		json_object_put(s);
	}
	berth_kv_list_free(&l);
	if (u->nips)
		qsort(u->ips, u->nips, sizeof(*u->ips), cmp_u32);
	return 0;
}

static uint32_t rnd(void)
{
	uint32_t r = 0;

	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = (uint32_t)random();
	return r;
}

static int alloc_ip(struct berth_api *api, struct json_object *spec,
		    const char *ns, const char *name, struct used *u,
		    struct berth_verrs *v)
{
	uint32_t size = api->svc_bits >= 31 ? 4 : 1u << (32 - api->svc_bits);
	uint32_t bcast = api->svc_net + size - 1, ip, i, start;
	const char *want = berth_json_get_str(spec, "clusterIP");
	char buf[INET_ADDRSTRLEN], detail[192], cidr[40];
	struct json_object *ips;
	struct in_addr a;

	inet_ntop(AF_INET, &(struct in_addr){ htonl(api->svc_net) }, buf,
		  sizeof(buf));
	snprintf(cidr, sizeof(cidr), "%s/%u", buf, api->svc_bits);
	if (want && *want) {
		if (inet_pton(AF_INET, want, &a) != 1) {
			berth_verr(v, BERTH_VERR_INVALID, "spec.clusterIPs[0]",
				   want, "must be a valid IP address");
			return 0;
		}
		ip = ntohl(a.s_addr);
		if (ip <= api->svc_net || ip >= bcast) {
			snprintf(
				detail, sizeof(detail),
				"failed to allocate IP %s: the provided IP (%s) is not in the valid range. The range of valid IPs is %s",
				want, want, cidr);
			berth_verr(v, BERTH_VERR_INVALID, "spec.clusterIPs",
				   want, detail);
		} else if (ip_used(u, ip)) {
			snprintf(
				detail, sizeof(detail),
				"failed to allocate IP %s: provided IP is already allocated",
				want);
			berth_verr(v, BERTH_VERR_INVALID, "spec.clusterIPs",
				   want, detail);
		}
		goto out;
	}
	if (size < 4)
		goto full;
	/* offset 1 is the kubernetes Service's */
	start = 2 + rnd() % (size - 3);
	for (i = 0; i < size - 3; i++) {
		ip = api->svc_net + 2 + (start - 2 + i) % (size - 3);
		if (!ip_used(u, ip))
			break;
	}
	if (i == size - 3)
		goto full;
	if (!strcmp(ns, "default") && !strcmp(name, "kubernetes") &&
	    !ip_used(u, api->svc_net + 1))
		ip = api->svc_net + 1;
	inet_ntop(AF_INET, &(struct in_addr){ htonl(ip) }, buf, sizeof(buf));
	berth_json_set_str(spec, "clusterIP", buf);
out:
	ips = json_object_new_array();
	json_object_array_add(ips, json_object_new_string(berth_json_get_str(
					   spec, "clusterIP")));
	json_object_object_add(spec, "clusterIPs", ips);
	return 0;
full:
	berth_verr(v, BERTH_VERR_INVALID, "spec.clusterIPs", NULL,
		   "failed to allocate a serviceIP: range is full");
	return 0;
}

/* Take port np if free (a verr on field if not); 0: pick a free one.
 * Returns the port, 0 on failure. */
static int64_t claim_port(struct used *u, int64_t np, const char *field,
			  struct berth_verrs *v)
{
	char val[16];
	uint32_t start, k;

	if (np) {
		snprintf(val, sizeof(val), "%lld", (long long)np);
		if (np < BERTH_NODEPORT_MIN || np > BERTH_NODEPORT_MAX)
			berth_verr(
				v, BERTH_VERR_INVALID, field, val,
				"provided port is not in the valid range. The range of valid ports is 30000-32767");
		else if (u->ports[np - BERTH_NODEPORT_MIN])
			berth_verr(v, BERTH_VERR_INVALID, field, val,
				   "provided port is already allocated");
		else {
			u->ports[np - BERTH_NODEPORT_MIN] = 1;
			return np;
		}
		return 0;
	}
	start = rnd() % NODEPORT_COUNT;
	for (k = 0; k < NODEPORT_COUNT; k++)
		if (!u->ports[(start + k) % NODEPORT_COUNT])
			break;
	if (k == NODEPORT_COUNT) {
		berth_verr(v, BERTH_VERR_INVALID, field, NULL, "range is full");
		return 0;
	}
	np = (start + k) % NODEPORT_COUNT;
	u->ports[np] = 1;
	return np + BERTH_NODEPORT_MIN;
}

/*
 * healthCheckNodePort: Kubernetes gives one to type LoadBalancer with
 * externalTrafficPolicy Local (kept across updates, or the one asked for),
 * and clears it otherwise.
 */
static void alloc_health_port(struct json_object *spec, struct json_object *old,
			      struct used *u, struct berth_verrs *v)
{
	const char *type = berth_json_get_str(spec, "type");
	const char *etp = berth_json_get_str(spec, "externalTrafficPolicy");
	int64_t hc = berth_json_get_int(spec, "healthCheckNodePort", 0);

	if (!type || strcmp(type, "LoadBalancer") || !etp ||
	    strcmp(etp, "Local")) {
		json_object_object_del(spec, "healthCheckNodePort");
		return;
	}
	if (!hc)
		hc = berth_json_get_int(berth_json_path(old, "spec"),
					"healthCheckNodePort", 0);
	hc = claim_port(u, hc, "spec.healthCheckNodePort", v);
	if (hc)
		berth_json_set_int(spec, "healthCheckNodePort", hc);
}

static void alloc_ports(struct json_object *spec, struct json_object *old,
			struct used *u, struct berth_verrs *v)
{
	struct json_object *ports = berth_json_path(spec, "ports");
	struct json_object *oports = berth_json_path(old, "spec.ports");
	char field[64];
	size_t i, j, n;

	if (!json_object_is_type(ports, json_type_array))
		return;
	n = json_object_array_length(ports);
	for (i = 0; i < n; i++) {
		struct json_object *p = json_object_array_get_idx(ports, i);
		int64_t np = berth_json_get_int(p, "nodePort", 0);
		int64_t port = berth_json_get_int(p, "port", 0);

		if (!json_object_is_type(p, json_type_object))
			continue;
		snprintf(field, sizeof(field), "spec.ports[%zu].nodePort", i);
		if (!np && json_object_is_type(oports, json_type_array)) {
			/* keep what this port had */
			for (j = 0; j < json_object_array_length(oports); j++) {
				struct json_object *op =
					json_object_array_get_idx(oports, j);

				if (berth_json_get_int(op, "port", -1) == port)
					np = berth_json_get_int(op, "nodePort",
								0);
			}
			if (np)
				berth_json_set_int(p, "nodePort", np);
		}
		np = claim_port(u, np, field, v);
		if (np)
			berth_json_set_int(p, "nodePort", np);
	}
}

static void drop_node_ports(struct json_object *spec)
{
	struct json_object *ports = berth_json_path(spec, "ports");
	size_t i, n;

	if (!json_object_is_type(ports, json_type_array))
		return;
	n = json_object_array_length(ports);
	for (i = 0; i < n; i++) {
		struct json_object *p = json_object_array_get_idx(ports, i);

		if (json_object_is_type(p, json_type_object))
			json_object_object_del(p, "nodePort");
	}
}

int berth_alloc_service(struct berth_api *api, struct json_object *svc,
			struct json_object *old, struct berth_verrs *v)
{
	struct json_object *spec = berth_json_path(svc, "spec");
	const char *ns = berth_json_path_str(svc, "metadata.namespace");
	const char *name = berth_json_path_str(svc, "metadata.name");
	const char *type = berth_json_get_str(spec, "type");
	const char *oip = berth_json_path_str(old, "spec.clusterIP");
	const char *nip = berth_json_get_str(spec, "clusterIP");
	struct used u = { 0 };
	int err;

	if (!json_object_is_type(spec, json_type_object) || !type || !ns ||
	    !name)
		return 0;
	if (!strcmp(type, "ExternalName")) {
		json_object_object_del(spec, "healthCheckNodePort");
		json_object_object_del(spec, "clusterIP");
		json_object_object_del(spec, "clusterIPs");
		drop_node_ports(spec);
		return 0;
	}
	if (oip && *oip && (!nip || !*nip)) {
		berth_json_set_str(spec, "clusterIP", oip);
		nip = oip;
	}
	if (oip && *oip && strcmp(oip, nip)) {
		berth_verr(v, BERTH_VERR_INVALID, "spec.clusterIPs[0]", nip,
			   "may not change once set");
		return 0;
	}
	err = load_used(api, ns, name, &u);
	if (err)
		return err;
	if (nip && !strcmp(nip, "None")) {
		struct json_object *ips = json_object_new_array();

		json_object_array_add(ips, json_object_new_string("None"));
		json_object_object_add(spec, "clusterIPs", ips);
	} else if (!(oip && *oip)) {
		alloc_ip(api, spec, ns, name, &u, v);
	}
	if (!strcmp(type, "NodePort") || !strcmp(type, "LoadBalancer"))
		alloc_ports(spec, old, &u, v);
	else
		drop_node_ports(spec);
	alloc_health_port(spec, old, &u, v);
	nip = berth_json_get_str(spec, "clusterIP");
	if (nip && *nip) {
		struct json_object *ips = json_object_new_array();

		json_object_array_add(ips, json_object_new_string(nip));
		json_object_object_add(spec, "clusterIPs", ips);
	}
	free(u.ips);
	return 0;
}
