// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * berth-agent's kube-proxy: Services and EndpointSlices from the API server
 * to the BPF service maps. Rules and timing: proxy.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <berth/kube.h>
#include <berth/log.h>

#include "ipt_sync.h"
#include "kview.h"
#include "metrics.h"
#include "proxy.h"
#include "status.h"

#define HEALTH_INTERVAL_MS 2000 /* how often an idle proxy asks /version */
#define HEALTH_TIMEOUT_S 5
#define RETRY_MS 1000 /* a failed sync is tried again after this */

static int proto_num(const char *s)
{
	if (!s || !strcmp(s, "TCP"))
		return IPPROTO_TCP;
	if (!strcmp(s, "UDP"))
		return IPPROTO_UDP;
	return -1;
}

/* ---- conversion ---- */

static int add_endpoint(struct berth_service *svc, size_t *cap, uint32_t ip,
			uint16_t port, bool terminating)
{
	struct berth_endpoint *ep;

	/* The same address in two slices (while one is being replaced):
	 * keep it once, ready wins over terminating. */
	for (size_t i = 0; i < svc->nendpoints; i++) {
		ep = &svc->endpoints[i];
		if (ep->ip == ip && ep->port == port) {
			ep->terminating &= terminating;
			return 0;
		}
	}
	if (svc->nendpoints == *cap) {
		size_t ncap = *cap ? 2 * *cap : 4;

		ep = realloc(svc->endpoints, ncap * sizeof(*ep));
		if (!ep)
			return -ENOMEM;
		svc->endpoints = ep;
		*cap = ncap;
	}
	svc->endpoints[svc->nendpoints++] = (struct berth_endpoint){
		.ip = ip, .port = port, .terminating = terminating,
	};
	return 0;
}

/* The slice's port number for a Service port (by name and protocol), or 0. */
static uint16_t slice_port(json_object *slice, const char *name, int proto)
{
	json_object *ports = berth_jget(slice, "ports");

	for (size_t i = 0; i < berth_jlen(ports); i++) {
		json_object *p = json_object_array_get_idx(ports, i);
		const char *pname = berth_jstr(p, "name");
		long num = berth_jint(p, "port");

		if (strcmp(pname ? pname : "", name) ||
		    proto_num(berth_jstr(p, "protocol")) != proto)
			continue;
		return num > 0 && num <= 65535 ? num : 0;
	}
	return 0;
}

static int slice_endpoints(struct berth_service *svc, size_t *cap,
			   json_object *slice, const char *pname, int proto,
			   bool local, const char *node)
{
	json_object *eps = berth_jget(slice, "endpoints");
	const char *type = berth_jstr(slice, "addressType");
	uint16_t port;
	int err;

	if (!type || strcmp(type, "IPv4"))
		return 0;
	port = slice_port(slice, pname, proto);
	if (!port)
		return 0;
	for (size_t i = 0; i < berth_jlen(eps); i++) {
		json_object *ep = json_object_array_get_idx(eps, i);
		json_object *cond = berth_jget(ep, "conditions");
		json_object *addrs = berth_jget(ep, "addresses");
		const char *ep_node = berth_jstr(ep, "nodeName");
		/* unset ready means unknown, which consumers take as ready;
		 * unset serving follows ready */
		bool ready = berth_jbool(cond, "ready", true);
		bool serving = berth_jbool(cond, "serving", ready);
		bool terminating = berth_jbool(cond, "terminating", false);

		if (!ready && !(serving && terminating))
			continue;
		if (local && (!node || !ep_node || strcmp(node, ep_node)))
			continue;
		for (size_t j = 0; j < berth_jlen(addrs); j++) {
			json_object *a = json_object_array_get_idx(addrs, j);
			struct in_addr ip;

			if (!json_object_is_type(a, json_type_string) ||
			    inet_pton(AF_INET, json_object_get_string(a),
				      &ip) != 1)
				continue;
			err = add_endpoint(svc, cap, ip.s_addr, port, !ready);
			if (err)
				return err;
		}
	}
	return 0;
}

static int cmp_endpoint(const void *a, const void *b)
{
	const struct berth_endpoint *x = a, *y = b;
	uint32_t xi = ntohl(x->ip), yi = ntohl(y->ip);

	if (xi != yi)
		return xi < yi ? -1 : 1;
	return (int)x->port - (int)y->port;
}

/* What every port of a Service shares. */
struct svc_common {
	const char *ns, *name;
	uint32_t cluster_ip;
	bool affinity, local;
	uint32_t affinity_timeout;
	enum berth_lb_algo algo;
	bool nodeport; /* type NodePort or LoadBalancer */
	bool ext_local; /* externalTrafficPolicy Local */
	long hc_port; /* healthCheckNodePort, -1 if none */
};

static bool svc_common(json_object *svc, struct svc_common *c)
{
	json_object *meta = berth_jget(svc, "metadata"),
		    *spec = berth_jget(svc, "spec");
	const char *type = berth_jstr(spec, "type"),
		   *ip = berth_jstr(spec, "clusterIP");
	const char *aff = berth_jstr(spec, "sessionAffinity");
	const char *algo = berth_jstr(berth_jget(meta, "annotations"),
				      BERTH_PROXY_ANNOT_LB);
	const char *itp = berth_jstr(spec, "internalTrafficPolicy");
	const char *etp = berth_jstr(spec, "externalTrafficPolicy");
	struct in_addr addr;
	long t;

	memset(c, 0, sizeof(*c));
	c->ns = berth_jstr(meta, "namespace");
	c->name = berth_jstr(meta, "name");
	if (!c->name || (type && !strcmp(type, "ExternalName")))
		return false;
	/* headless ("None") and IPv6-only Services have nothing to balance */
	if (!ip || inet_pton(AF_INET, ip, &addr) != 1 || !addr.s_addr)
		return false;
	c->cluster_ip = addr.s_addr;
	c->affinity = aff && !strcmp(aff, "ClientIP");
	if (c->affinity) {
		t = berth_jint(
			berth_jget(berth_jget(spec, "sessionAffinityConfig"),
				   "clientIP"),
			"timeoutSeconds");
		c->affinity_timeout = t > 0 && t <= 86400 ?
					      t :
					      BERTH_PROXY_AFFINITY_DEFAULT;
	}
	c->algo = algo && !strcmp(algo, "maglev") ? BERTH_LB_MAGLEV :
						   BERTH_LB_RANDOM;
	c->local = itp && !strcmp(itp, "Local");
	c->nodeport = type && (!strcmp(type, "NodePort") ||
			       !strcmp(type, "LoadBalancer"));
	c->ext_local = c->nodeport && etp && !strcmp(etp, "Local");
	c->hc_port = c->ext_local ? berth_jint(spec, "healthCheckNodePort") :
				    -1;
	return true;
}

/* One frontend of a Service port: the address and port clients use and
 * whether only this node's endpoints serve it. */
struct frontend {
	uint32_t vip;
	long port;
	bool local;
};

static int convert_port(const struct svc_common *c, json_object *port,
			const struct frontend *f, json_object *slices,
			json_object *const *all, const char *node,
			struct berth_service *out)
{
	const char *name = berth_jstr(port, "name");
	int proto = proto_num(berth_jstr(port, "protocol"));
	long num = berth_jint(port, "port"),
	     target = berth_jint(port, "targetPort");
	size_t cap = 0;
	int err;

	if (proto < 0 || num <= 0 || num > 65535 || f->port <= 0 ||
	    f->port > 65535)
		return 1; /* SCTP or malformed: skipped */
	name = name ? name : "";
	snprintf(out->namespace, sizeof(out->namespace), "%s",
		 c->ns ? c->ns : "");
	snprintf(out->name, sizeof(out->name), "%s", c->name);
	out->cluster_ip = f->vip;
	out->affinity = c->affinity;
	out->affinity_timeout = c->affinity_timeout;
	out->algo = c->algo;
	out->local = f->local;
	out->ports = calloc(1, sizeof(*out->ports));
	if (!out->ports)
		return -ENOMEM;
	out->nports = 1;
	snprintf(out->ports[0].name, sizeof(out->ports[0].name), "%s", name);
	out->ports[0].port = f->port;
	/* a named targetPort is resolved by the slices; each endpoint
	 * carries its port, so this only matters without endpoints */
	out->ports[0].target_port = target > 0 && target <= 65535 ? target :
								     num;
	out->ports[0].proto = proto;
	for (size_t i = 0; i < berth_jlen(slices); i++) {
		size_t idx = json_object_get_int(
			json_object_array_get_idx(slices, i));

		err = slice_endpoints(out, &cap, all[idx], name, proto,
				      f->local, node);
		if (err)
			return err;
	}
	if (out->nendpoints)
		qsort(out->endpoints, out->nendpoints, sizeof(*out->endpoints),
		      cmp_endpoint);
	return 0;
}

/* {"ns/svc": [slice index, ...]} */
static int index_slices(json_object *const *slices, size_t n,
			json_object **out)
{
	json_object *idx = json_object_new_object();
	char key[2 * BERTH_NAME_MAX + 2];

	if (!idx)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		json_object *meta = berth_jget(slices[i], "metadata"), *arr;
		const char *ns = berth_jstr(meta, "namespace");
		const char *svc = berth_jstr(berth_jget(meta, "labels"),
					     "kubernetes.io/service-name");

		if (!svc || snprintf(key, sizeof(key), "%s/%s", ns ? ns : "",
				     svc) >= (int)sizeof(key))
			continue;
		arr = berth_jget(idx, key);
		if (!arr) {
			arr = json_object_new_array();
			if (!arr || json_object_object_add(idx, key, arr)) {
				json_object_put(arr);
				json_object_put(idx);
				return -ENOMEM;
			}
		}
		if (json_object_array_add(arr, json_object_new_int(i))) {
			json_object_put(idx);
			return -ENOMEM;
		}
	}
	*out = idx;
	return 0;
}

static int cmp_service(const void *a, const void *b)
{
	const struct berth_service *x = a, *y = b;
	uint32_t xi = ntohl(x->cluster_ip), yi = ntohl(y->cluster_ip);

	if (xi != yi)
		return xi < yi ? -1 : 1;
	if (x->ports[0].port != y->ports[0].port)
		return (int)x->ports[0].port - (int)y->ports[0].port;
	return (int)x->ports[0].proto - (int)y->ports[0].proto;
}

/* Room for one more service in set; NULL on -ENOMEM. */
static struct berth_service *set_push(struct berth_service_set *set,
				      size_t *cap)
{
	struct berth_service *s;

	if (set->n == *cap) {
		size_t ncap = *cap ? 2 * *cap : 16;

		s = realloc(set->svcs, ncap * sizeof(*s));
		if (!s)
			return NULL;
		set->svcs = s;
		*cap = ncap;
	}
	s = &set->svcs[set->n];
	memset(s, 0, sizeof(*s));
	return s;
}

/* The ClusterIP frontend of a port and, for NodePort, the node's. */
static int frontends_of(const struct svc_common *c, json_object *port,
			uint32_t node_ip, struct frontend f[2])
{
	long np = berth_jint(port, "nodePort");
	int n = 0;

	f[n++] = (struct frontend){ .vip = c->cluster_ip,
				    .port = berth_jint(port, "port"),
				    .local = c->local };
	if (c->nodeport && node_ip && np > 0 && np <= 65535)
		f[n++] = (struct frontend){ .vip = node_ip,
					    .port = np,
					    .local = c->ext_local };
	return n;
}

static bool svc_usable(json_object *svc, struct svc_common *c)
{
	if (!svc_common(svc, c))
		return false;
	if (strlen(c->name) >= BERTH_NAME_MAX ||
	    (c->ns && strlen(c->ns) >= BERTH_NAME_MAX)) {
		pr_debug("service %s/%s: name too long, skipped",
			 c->ns ? c->ns : "", c->name);
		return false;
	}
	return true;
}

int berth_proxy_convert(json_object *const *svcs, size_t nsvcs,
			json_object *const *slices, size_t nslices,
			const char *node, uint32_t node_ip,
			struct berth_service_set *out)
{
	struct berth_service_set set = { 0 };
	json_object *idx = NULL;
	char key[2 * BERTH_NAME_MAX + 2];
	struct frontend f[2];
	size_t cap = 0;
	int err, nf;

	err = index_slices(slices, nslices, &idx);
	if (err)
		return err;
	for (size_t i = 0; i < nsvcs; i++) {
		json_object *ports =
			berth_jget(berth_jget(svcs[i], "spec"), "ports");
		struct svc_common c;

		if (!svc_usable(svcs[i], &c))
			continue;
		snprintf(key, sizeof(key), "%s/%s", c.ns ? c.ns : "", c.name);
		for (size_t j = 0; j < berth_jlen(ports); j++) {
			json_object *port = json_object_array_get_idx(ports, j);

			nf = frontends_of(&c, port, node_ip, f);
			for (int k = 0; k < nf; k++) {
				struct berth_service *s = set_push(&set, &cap);

				if (!s) {
					err = -ENOMEM;
					goto fail;
				}
				err = convert_port(&c, port, &f[k],
						   berth_jget(idx, key), slices,
						   node, s);
				if (err < 0) {
					set.n++; /* so its allocations are freed */
					goto fail;
				}
				if (err > 0) {
					free(s->ports);
					continue;
				}
				set.n++;
			}
		}
	}
	if (set.n)
		qsort(set.svcs, set.n, sizeof(*set.svcs), cmp_service);
	json_object_put(idx);
	*out = set;
	return 0;
fail:
	json_object_put(idx);
	berth_service_set_free(&set);
	return err;
}

/* Distinct ready endpoint addresses of a Service on @node. */
static uint32_t local_endpoints(json_object *slices, json_object *const *all,
				const char *node)
{
	uint32_t ips[1024], n = 0;

	for (size_t i = 0; i < berth_jlen(slices); i++) {
		json_object *sl = all[json_object_get_int(
			json_object_array_get_idx(slices, i))];
		json_object *eps = berth_jget(sl, "endpoints");

		for (size_t j = 0; j < berth_jlen(eps); j++) {
			json_object *ep = json_object_array_get_idx(eps, j);
			json_object *addrs = berth_jget(ep, "addresses");
			const char *ep_node = berth_jstr(ep, "nodeName");
			struct in_addr a;
			uint32_t k;

			if (!berth_jbool(berth_jget(ep, "conditions"), "ready",
					 true) ||
			    !node || !ep_node || strcmp(node, ep_node))
				continue;
			for (size_t m = 0; m < berth_jlen(addrs); m++) {
				const char *s = json_object_get_string(
					json_object_array_get_idx(addrs, m));

				if (!s || inet_pton(AF_INET, s, &a) != 1)
					continue;
				for (k = 0; k < n && ips[k] != a.s_addr; k++)
					;
				if (k == n && n < 1024)
					ips[n++] = a.s_addr;
			}
		}
	}
	return n;
}

int berth_proxy_health(json_object *const *svcs, size_t nsvcs,
		       json_object *const *slices, size_t nslices,
		       const char *node, struct berth_hc_service **out,
		       size_t *nout)
{
	struct berth_hc_service *hs = calloc(nsvcs ? nsvcs : 1, sizeof(*hs));
	char key[2 * BERTH_NAME_MAX + 2];
	json_object *idx = NULL;
	size_t n = 0;
	int err;

	if (!hs)
		return -ENOMEM;
	err = index_slices(slices, nslices, &idx);
	if (err) {
		free(hs);
		return err;
	}
	for (size_t i = 0; i < nsvcs; i++) {
		struct svc_common c;

		if (!svc_usable(svcs[i], &c) || c.hc_port <= 0 ||
		    c.hc_port > 65535)
			continue;
		snprintf(key, sizeof(key), "%s/%s", c.ns ? c.ns : "", c.name);
		snprintf(hs[n].ns, sizeof(hs[n].ns), "%s", c.ns ? c.ns : "");
		snprintf(hs[n].name, sizeof(hs[n].name), "%s", c.name);
		hs[n].port = c.hc_port;
		hs[n].local =
			local_endpoints(berth_jget(idx, key), slices, node);
		n++;
	}
	json_object_put(idx);
	*out = hs;
	*nout = n;
	return 0;
}

/* ---- the running proxy ---- */

enum { K_SVC, K_SLICE, K_N };

static const char *const collections[K_N] = {
	[K_SVC] = "/api/v1/services",
	[K_SLICE] = "/apis/discovery.k8s.io/v1/endpointslices",
};

struct berth_proxy {
	struct berth_kube *kube;
	bool own_kube;
	char *node, *root;
	uint32_t node_ip; /* network order; 0: no NodePort */
	struct berth_hc
		*hc; /* healthCheckNodePort servers, NULL without node_ip */
	struct berth_lbmap *lb;
	struct berth_ipt_sync *ipt; /* instead of lb (iptables dataplane) */
	pthread_mutex_t lb_lock;

	pthread_mutex_t mu; /* everything below */
	pthread_cond_t cv;
	struct berth_kview kinds[K_N];
	bool dirty, stop;
	struct timespec first, last; /* events since the last sync */
	uint64_t syncs;
	struct berth_status status;
	pthread_t thread;
	bool started;
};

static void now(struct timespec *t)
{
	clock_gettime(CLOCK_MONOTONIC, t);
}

static long long ts_us(const struct timespec *t)
{
	return (long long)t->tv_sec * 1000000 + t->tv_nsec / 1000;
}

static struct timespec ts_add_ms(struct timespec t, long ms)
{
	t.tv_sec += ms / 1000;
	t.tv_nsec += (ms % 1000) * 1000000;
	if (t.tv_nsec >= 1000000000) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000;
	}
	return t;
}

static bool ts_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec ||
	       (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* Called with mu held. */
static void mark_dirty(struct berth_proxy *p)
{
	now(&p->last);
	if (!p->dirty)
		p->first = p->last;
	p->dirty = true;
	pthread_cond_signal(&p->cv);
}

static void warn_unsupported(json_object *svc)
{
	json_object *meta = berth_jget(svc, "metadata");
	json_object *ports = berth_jget(berth_jget(svc, "spec"), "ports");

	for (size_t i = 0; i < berth_jlen(ports); i++) {
		json_object *port = json_object_array_get_idx(ports, i);
		const char *proto = berth_jstr(port, "protocol");

		if (proto_num(proto) < 0)
			pr_info("service %s/%s port %ld: protocol %s is not supported, skipped",
				berth_jstr(meta, "namespace"),
				berth_jstr(meta, "name"),
				berth_jint(port, "port"), proto);
	}
}

static void on_change(struct berth_kview *v, enum berth_kube_event ev,
		      json_object *obj, void *arg)
{
	struct berth_proxy *p = arg;

	if (v == &p->kinds[K_SVC] && ev != BERTH_KUBE_DELETED &&
	    ev != BERTH_KUBE_LIST_END)
		warn_unsupported(obj);
	if (ev == BERTH_KUBE_LIST_END || !berth_kview_listing(v))
		mark_dirty(p);
}

static size_t count_services(const struct berth_service_set *set,
			     uint32_t node_ip)
{
	size_t n = 0;

	/* sorted by cluster IP: ports of one Service are adjacent; NodePort
	 * frontends (the node's IP) are not Services of their own */
	for (size_t i = 0; i < set->n; i++)
		if (set->svcs[i].cluster_ip != node_ip &&
		    (!i ||
		     set->svcs[i].cluster_ip != set->svcs[i - 1].cluster_ip))
			n++;
	return n;
}

/* Open, close and update the healthCheckNodePort servers. */
static void update_health(struct berth_proxy *p, json_object **svcs,
			  size_t nsvcs, json_object **slices, size_t nslices)
{
	struct berth_hc_service *hs = NULL;
	size_t n = 0;

	if (!p->hc)
		return;
	if (berth_proxy_health(svcs, nsvcs, slices, nslices, p->node, &hs, &n))
		return;
	berth_hc_update(p->hc, hs, n);
	free(hs);
}

/* The iptables dataplane's sync; restores count as writes. */
static int ipt_apply(struct berth_ipt_sync *ipt,
		     const struct berth_service_set *set,
		     struct berth_sync_stats *st, char *err, size_t errlen)
{
	struct berth_ipt_sync_stats is;
	int ret = berth_ipt_sync_apply(ipt, set, &is, err, errlen);

	st->writes = is.restores;
	if (!ret)
		pr_info("iptables %s sync: %zu chains, %zu written (%zu repaired), %zu deleted, %zu rules, %u jumps added, %u conntrack flushes",
			is.full	   ? "full" :
			is.checked ? "checked" :
				     "partial",
			is.render.chains, is.render.written, is.repaired,
			is.render.deleted, is.render.rules, is.jumps_added,
			is.ct_flushed);
	return ret;
}

/* Called with mu held; drops it while converting and writing. */
static int proxy_sync(struct berth_proxy *p)
{
	json_object **svcs = NULL, **slices = NULL;
	size_t nsvcs = 0, nslices = 0, n = 0;
	struct berth_service_set set = { 0 };
	struct berth_frontend *fe = NULL;
	struct berth_sync_stats st = { 0 };
	struct timespec first = p->first, t0, t1;
	char err[512] = "";
	int ret;

	ret = berth_kview_objects(&p->kinds[K_SVC], &svcs, &nsvcs);
	if (!ret)
		ret = berth_kview_objects(&p->kinds[K_SLICE], &slices,
					  &nslices);
	p->dirty = false;
	pthread_mutex_unlock(&p->mu);

	now(&t0);
	if (!ret)
		ret = berth_proxy_convert(svcs, nsvcs, slices, nslices, p->node,
					  p->node_ip, &set);
	if (!ret)
		ret = berth_services_to_frontends(&set, &fe, &n);
	if (ret) {
		snprintf(err, sizeof(err), "convert services: %s",
			 strerror(-ret));
	} else {
		pthread_mutex_lock(&p->lb_lock);
		ret = p->ipt ? ipt_apply(p->ipt, &set, &st, err, sizeof(err)) :
			       berth_lbmap_sync(p->lb, fe, n, &st, err,
						sizeof(err));
		pthread_mutex_unlock(&p->lb_lock);
		update_health(p, svcs, nsvcs, slices, nslices);
	}
	now(&t1);

	pthread_mutex_lock(&p->mu);
	p->status.seq++;
	p->status.ok = ret == 0;
	snprintf(p->status.error, sizeof(p->status.error), "%s",
		 ret ? err : "");
	p->status.services = count_services(&set, p->node_ip);
	p->status.frontends = n;
	p->status.writes = st.writes;
	p->status.duration_us = ts_us(&t1) - ts_us(&t0);
	p->status.latency_us = ts_us(&t1) - ts_us(&first);
	if (!p->status.latency_us)
		p->status.latency_us = 1;
	berth_agent_metrics_sync(ret == 0, p->status.latency_us / 1e6,
				 st.writes);
	if (ret)
		pr_err("proxy sync failed, maps unchanged: %s", err);
	else
		pr_info("proxy sync: %zu services, %zu frontends, %lu map writes in %lu us, %lu us after the first change",
			p->status.services, n, (unsigned long)st.writes,
			(unsigned long)p->status.duration_us,
			(unsigned long)p->status.latency_us);
	if (!ret)
		berth_agent_health_set("proxy-sync", true, NULL);
	if (p->root)
		berth_status_write(p->root, &p->status);
	p->syncs++;
	if (ret) {
		/* try again later, still counting from the first change */
		if (!p->dirty)
			p->first = first;
		p->dirty = true;
		p->last = ts_add_ms(t1, RETRY_MS);
	}
	berth_frontends_free(fe, n);
	berth_service_set_free(&set);
	berth_kview_put(svcs, nsvcs);
	berth_kview_put(slices, nslices);
	return ret;
}

/* Called with mu held; logs once when the server goes and comes back. */
static void health_check(struct berth_proxy *p, bool *down)
{
	int st;

	pthread_mutex_unlock(&p->mu);
	st = berth_kube_get(p->kube, "/version", NULL);
	pthread_mutex_lock(&p->mu);
	if (st < 0 && !*down)
		pr_warn("proxy: API server %s unreachable (%s): service maps stay as they are",
			berth_kube_server(p->kube), strerror(-st));
	else if (st >= 0 && *down)
		pr_info("proxy: API server %s is back", berth_kube_server(p->kube));
	*down = st < 0;
	berth_agent_health_set("apiserver", st >= 0,
			       st < 0 ? strerror(-st) : NULL);
}

static void *sync_thread(void *arg)
{
	struct berth_proxy *p = arg;
	struct timespec t, deadline, next_health;
	bool down = false;

	pthread_mutex_lock(&p->mu);
	now(&next_health);
	next_health = ts_add_ms(next_health, HEALTH_INTERVAL_MS);
	while (!p->stop) {
		bool ready = p->kinds[K_SVC].listed &&
			     p->kinds[K_SLICE].listed;

		now(&t);
		if (!ts_before(&t, &next_health)) {
			health_check(p, &down);
			now(&next_health);
			next_health = ts_add_ms(next_health, HEALTH_INTERVAL_MS);
			continue;
		}
		deadline = next_health;
		if (p->ipt && ready && !p->dirty) {
			/* iptables: a full sync when due repairs what
			 * others deleted */
			long due = berth_ipt_sync_full_due_ms(p->ipt);
			struct timespec at = ts_add_ms(t, due);

			if (!due) {
				mark_dirty(p);
				continue;
			}
			if (ts_before(&at, &deadline))
				deadline = at;
		}
		if (p->dirty && ready) {
			struct timespec quiet, cap;

			quiet = ts_add_ms(p->last, BERTH_PROXY_DEBOUNCE_MS);
			cap = ts_add_ms(p->first, BERTH_PROXY_DEBOUNCE_MAX_MS);
			deadline = ts_before(&quiet, &cap) ? quiet : cap;
			/* a retry's time is in last, past the cap */
			if (ts_before(&cap, &p->last))
				deadline = p->last;
			if (!ts_before(&t, &deadline)) {
				proxy_sync(p);
				continue;
			}
		}
		pthread_cond_timedwait(&p->cv, &p->mu, &deadline);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static void proxy_free(struct berth_proxy *p)
{
	for (int i = 0; i < K_N; i++) {
		berth_kview_free(&p->kinds[i]);
	}
	berth_hc_free(p->hc);
	if (p->own_kube)
		berth_kube_free(p->kube);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	pthread_mutex_destroy(&p->lb_lock);
	free(p->node);
	free(p->root);
	free(p);
}

int berth_proxy_start(const struct berth_proxy_opts *opts,
		      struct berth_proxy **out)
{
	struct berth_proxy *p;
	pthread_condattr_t ca;
	int err;

	if ((!opts->lb && !opts->ipt) || (!opts->kube && !opts->kubeconfig))
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	pthread_mutex_init(&p->mu, NULL);
	pthread_mutex_init(&p->lb_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cv, &ca);
	pthread_condattr_destroy(&ca);
	p->lb = opts->lb;
	p->ipt = opts->ipt;
	p->node = opts->node_name ? strdup(opts->node_name) : NULL;
	p->root = opts->root ? strdup(opts->root) : NULL;
	if ((opts->node_name && !p->node) || (opts->root && !p->root)) {
		err = -ENOMEM;
		goto fail;
	}
	p->status.xdp_mode = opts->xdp_mode;
	if (opts->node_ip) {
		struct in_addr a;

		if (inet_pton(AF_INET, opts->node_ip, &a) != 1) {
			err = -EINVAL;
			goto fail;
		}
		p->node_ip = a.s_addr;
		err = berth_hc_new(&p->hc, opts->node_ip);
		if (err)
			goto fail;
	}
	for (int i = 0; i < K_N; i++) {
		err = berth_kview_init(&p->kinds[i], collections[i], &p->mu,
				       on_change, p);
		if (err) {
			goto fail;
		}
	}
	if (opts->kube) {
		p->kube = opts->kube;
	} else {
		err = berth_kube_open(&p->kube, opts->kubeconfig);
		if (err)
			goto fail;
		p->own_kube = true;
		berth_kube_set_timeout(p->kube, HEALTH_TIMEOUT_S);
	}
	/* /readyz of the agent: both turn ok once seen to work */
	berth_agent_health_set("proxy-sync", false, "no full sync yet");
	berth_agent_health_set("apiserver", false, "not checked yet");
	err = pthread_create(&p->thread, NULL, sync_thread, p);
	if (err) {
		err = -err;
		goto fail;
	}
	p->started = true;
	for (int i = 0; i < K_N; i++) {
		err = berth_kview_start(&p->kinds[i], p->kube);
		if (err) {
			berth_proxy_stop(p);
			return err;
		}
	}
	pr_info("proxy: watching Services and EndpointSlices on %s",
		berth_kube_server(p->kube));
	*out = p;
	return 0;
fail:
	pr_err("proxy: start: %s", strerror(-err));
	proxy_free(p);
	return err;
}

void berth_proxy_stop(struct berth_proxy *p)
{
	if (!p)
		return;
	for (int i = 0; i < K_N; i++)
		berth_kview_stop(&p->kinds[i]);
	if (p->started) {
		pthread_mutex_lock(&p->mu);
		p->stop = true;
		pthread_cond_signal(&p->cv);
		pthread_mutex_unlock(&p->mu);
		pthread_join(p->thread, NULL);
	}
	proxy_free(p);
}

void berth_proxy_lock(struct berth_proxy *p)
{
	if (p)
		pthread_mutex_lock(&p->lb_lock);
}

void berth_proxy_unlock(struct berth_proxy *p)
{
	if (p)
		pthread_mutex_unlock(&p->lb_lock);
}

void berth_proxy_resync(struct berth_proxy *p)
{
	if (!p || !p->ipt)
		return;
	pthread_mutex_lock(&p->lb_lock);
	berth_ipt_sync_request_full(p->ipt);
	pthread_mutex_unlock(&p->lb_lock);
	pthread_mutex_lock(&p->mu);
	mark_dirty(p);
	pthread_mutex_unlock(&p->mu);
}

uint64_t berth_proxy_syncs(struct berth_proxy *p)
{
	uint64_t n;

	pthread_mutex_lock(&p->mu);
	n = p->syncs;
	pthread_mutex_unlock(&p->mu);
	return n;
}
