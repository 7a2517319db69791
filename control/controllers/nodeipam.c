// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Node IPAM controller (kube-controller-manager's range allocator): each
 * Node gets a podCIDR of --node-cidr-mask-size bits out of --cluster-cidr
 * in spec.podCIDR and spec.podCIDRs; a deleted Node's range is free again.
 * The used set is rebuilt from the Nodes at start, so a restart never
 * hands a range out twice.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <berth/log.h>

#include "../apiserver/jsonutil.h"
#include "ctl.h"

#define IPAM_MAX_BITS 16 /* at most 65536 node ranges, as the range allocator */
#define IPAM_RETRIES 5

struct ipam {
	struct berth_api *api;
	struct berth_informer *nodes;
	struct berth_queue *q;
	uint32_t base; /* first address of the cluster CIDR, host order */
	unsigned int node_bits; /* prefix of a node's range */
	size_t count; /* ranges in the cluster CIDR */
	pthread_mutex_t lock; /* used, next, starved: informer and worker */
	uint8_t *used; /* bitmap of ranges handed out */
	size_t next; /* where the next search starts */
	bool starved; /* a node waits for a free range */
};

static int parse_cidr(const char *s, uint32_t *addr, unsigned int *bits)
{
	char buf[64], *slash;
	struct in_addr a;
	long n;

	if (!s || strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (!slash)
		return -EINVAL;
	*slash = 0;
	n = strtol(slash + 1, NULL, 10);
	if (n < 0 || n > 32 || inet_pton(AF_INET, buf, &a) != 1)
		return -EINVAL;
	*addr = ntohl(a.s_addr);
	*bits = (unsigned int)n;
	return 0;
}

/* The index of a node's podCIDR in our range, or -1. */
static long cidr_index(struct ipam *p, const char *cidr)
{
	uint32_t a, off;
	unsigned int bits;

	if (parse_cidr(cidr, &a, &bits) || bits != p->node_bits || a < p->base)
		return -1;
	off = (a - p->base) >> (32 - p->node_bits);
	if (off >= p->count || p->base + (off << (32 - p->node_bits)) != a)
		return -1;
	return (long)off;
}

static void set_used(struct ipam *p, long i, bool on)
{
	if (i < 0)
		return;
	if (on)
		p->used[i / 8] |= (uint8_t)(1u << (i % 8));
	else
		p->used[i / 8] &= (uint8_t)~(1u << (i % 8));
}

static bool is_used(struct ipam *p, size_t i)
{
	return p->used[i / 8] & (1u << (i % 8));
}

static void node_key(void *ctx, struct json_object *node)
{
	struct ipam *p = ctx;
	const char *name = berth_json_path_str(node, "metadata.name");
	const char *cidr = berth_json_path_str(node, "spec.podCIDR");

	if (cidr) {
		pthread_mutex_lock(&p->lock);
		set_used(p, cidr_index(p, cidr), true);
		pthread_mutex_unlock(&p->lock);
	} else if (name) {
		berth_queue_add(p->q, name);
	}
}

static void node_update(void *ctx, struct json_object *old,
			struct json_object *node)
{
	(void)old;
	node_key(ctx, node);
}

/* A node's range is free again; nodes that waited for one try again. */
static void node_del(void *ctx, struct json_object *node)
{
	struct ipam *p = ctx;
	const char *cidr = berth_json_path_str(node, "spec.podCIDR");
	struct json_object *keys;
	bool starved;
	size_t i;

	if (!cidr)
		return;
	pthread_mutex_lock(&p->lock);
	set_used(p, cidr_index(p, cidr), false);
	starved = p->starved;
	p->starved = false;
	pthread_mutex_unlock(&p->lock);
	if (!starved)
		return;
	keys = berth_informer_keys(p->nodes);
	for (i = 0; i < json_object_array_length(keys); i++)
		berth_queue_add(p->q, json_object_get_string(
					      json_object_array_get_idx(keys, i)));
	json_object_put(keys);
}

/* Take a free range; -1 when the cluster CIDR is exhausted. */
static long take(struct ipam *p)
{
	size_t k;
	long got = -1;

	pthread_mutex_lock(&p->lock);
	for (k = 0; k < p->count; k++) {
		size_t i = (p->next + k) % p->count;

		if (!is_used(p, i)) {
			set_used(p, (long)i, true);
			p->next = (i + 1) % p->count;
			got = (long)i;
			break;
		}
	}
	if (got < 0)
		p->starved = true;
	pthread_mutex_unlock(&p->lock);
	return got;
}

static void format_cidr(struct ipam *p, long i, char *buf, size_t size)
{
	struct in_addr a = { .s_addr = htonl(p->base + ((uint32_t)i
							<< (32 - p->node_bits))) };
	char ip[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &a, ip, sizeof(ip));
	snprintf(buf, size, "%s/%u", ip, p->node_bits);
}

/* Write cidr into the live node unless it has one already. */
static int assign(struct ipam *p, const char *name, const char *cidr)
{
	const struct berth_resource *r = berth_res("", "nodes");
	int attempt, code = 0;

	for (attempt = 0; attempt < IPAM_RETRIES; attempt++) {
		struct json_object *node = NULL, *out = NULL, *spec, *list;

		code = berth_client_get(p->api, r, NULL, name, &node);
		if (code != 200 || berth_json_path_str(node, "spec.podCIDR")) {
			json_object_put(node);
			return code == 200 || code == 404 ? -EEXIST : -EIO;
		}
		spec = berth_json_obj(node, "spec");
		berth_json_set_str(spec, "podCIDR", cidr);
		list = json_object_new_array();
		json_object_array_add(list, json_object_new_string(cidr));
		json_object_object_add(spec, "podCIDRs", list);
		code = berth_client_update(p->api, r, NULL, name, NULL, node,
					   &out);
		if (code == 200)
			berth_informer_wait_rev(p->nodes, berth_obj_rv(out),
						1000);
		json_object_put(node);
		json_object_put(out);
		if (code == 200)
			return 0;
		if (code != 409)
			break;
	}
	pr_warn("node ipam: set podCIDR %s on node %s: HTTP %d", cidr, name,
		code);
	return -EIO;
}

static int ipam_sync(void *ctx, const char *name)
{
	struct ipam *p = ctx;
	struct json_object *node = berth_informer_get(p->nodes, name);
	char cidr[64];
	long i;
	int err = 0;

	if (!node || berth_json_path_str(node, "spec.podCIDR") ||
	    berth_obj_deleting(node))
		goto out;
	i = take(p);
	if (i < 0) {
		berth_event_emit(p->api, "cidrAllocator", node, "Normal",
				 "CIDRNotAvailable",
				 "Node %s status is now: CIDRNotAvailable",
				 name);
		goto out; /* a deleted node's range wakes us */
	}
	format_cidr(p, i, cidr, sizeof(cidr));
	err = assign(p, name, cidr);
	if (err) {
		pthread_mutex_lock(&p->lock);
		set_used(p, i, false);
		pthread_mutex_unlock(&p->lock);
		if (err == -EEXIST)
			err = 0; /* it has one (or is gone): the handler saw it */
	} else {
		pr_info("node %s: podCIDR %s", name, cidr);
	}
out:
	json_object_put(node);
	return err;
}

static void ipam_stop(void *state)
{
	struct ipam *p = state;

	if (!p)
		return;
	pthread_mutex_destroy(&p->lock);
	free(p->used);
	free(p);
}

static int ipam_init(struct berth_ctl *m, void **state)
{
	const struct berth_ctl_options *o = berth_ctl_opts(m);
	unsigned int cbits;
	struct ipam *p;

	*state = NULL;
	if (!o->cluster_cidr || !*o->cluster_cidr)
		return 0; /* disabled */
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	if (parse_cidr(o->cluster_cidr, &p->base, &cbits) ||
	    o->node_cidr_bits < cbits || o->node_cidr_bits > 32 ||
	    o->node_cidr_bits - cbits > IPAM_MAX_BITS) {
		pr_err("node ipam: cluster CIDR %s with node mask /%u is not usable",
		       o->cluster_cidr, o->node_cidr_bits);
		free(p);
		return -EINVAL;
	}
	p->base &= cbits ? ~0u << (32 - cbits) : 0;
	p->node_bits = o->node_cidr_bits;
	p->count = (size_t)1 << (p->node_bits - cbits);
	p->used = calloc((p->count + 7) / 8, 1);
	if (!p->used) {
		free(p);
		return -ENOMEM;
	}
	pthread_mutex_init(&p->lock, NULL);
	p->api = berth_ctl_api(m);
	p->q = berth_queue_new("nodeipam");
	p->nodes = berth_ctl_informer(m, berth_res("", "nodes"));
	berth_informer_add_handler(
		p->nodes, &(struct berth_informer_handler){ .add = node_key,
							    .update = node_update,
							    .del = node_del,
							    .ctx = p });
	*state = p;
	return berth_ctl_workers(m, "nodeipam", p->q, 1, ipam_sync, p);
}

BERTH_CONTROLLER(nodeipam, .name = "nodeipam", .init = ipam_init,
		 .stop = ipam_stop);
