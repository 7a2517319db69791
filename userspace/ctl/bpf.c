// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * berthctl bpf: inspect a node's datapath maps (services, backends, rev_nat,
 * affinity, ct, nat, endpoints, ipcache, node, metrics), and berthctl probe.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <berth/abi/ct.h>
#include <berth/abi/lb.h>
#include <berth/abi/metrics.h>
#include <berth/abi/pins.h>
#include <berth/abi/route.h>
#include <berth/reason.h>

#include "ctl.h"

static const char *node = NULL;
static bool json;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: berthctl bpf services|backends|rev_nat|affinity|ct|nat|endpoints|ipcache|node|metrics\n"
		"                --node NAME [-o json]\n"
		"       berthctl bpf policy NS/NAME|IP --node NAME [-o json]\n"
		"                (names from $BERTH_ROOT/policy.json, default /var/lib/berth)\n"
		"       berthctl probe [-o json]   kernel features, verifier verdicts\n");
}

/* every WHAT of `berthctl bpf WHAT` (shell completion lists them) */
const char *const ctl_bpf_tables[] = { "services",  "backends", "rev_nat",
				       "affinity",  "ct",	"nat",
				       "endpoints", "ipcache",	"node",
				       "metrics",   "policy",	NULL };

static int open_map(const char *name)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s/%s", BERTH_BPFFS_ROOT, node, name);
	fd = bpf_obj_get(path);
	if (fd < 0) {
		fprintf(stderr, "berthctl: open %s: %s\n", path,
			strerror(errno));
		exit(1);
	}
	return fd;
}

static const char *ip_str(__be32 ip, char *buf)
{
	return inet_ntop(AF_INET, &ip, buf, INET_ADDRSTRLEN);
}

static const char *proto_str(__u8 proto)
{
	return proto == IPPROTO_TCP ? "TCP" :
	       proto == IPPROTO_UDP ? "UDP" :
				      "?";
}

/* Frontends by address, port, protocol, then slot: each followed by its slots. */
static int cmp_svc(const void *a, const void *b)
{
	const struct berth_svc_key *x = a, *y = b;

	if (x->vip != y->vip)
		return ntohl(x->vip) < ntohl(y->vip) ? -1 : 1;
	if (x->dport != y->dport)
		return ntohs(x->dport) < ntohs(y->dport) ? -1 : 1;
	if (x->proto != y->proto)
		return x->proto < y->proto ? -1 : 1;
	return (x->slot > y->slot) - (x->slot < y->slot);
}

static int cmp_u32(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return (x > y) - (x < y);
}

/* By client address and port, then direction. */
static int cmp_ct(const void *a, const void *b)
{
	const struct berth_ct_key *x = a, *y = b;

	if (x->saddr != y->saddr)
		return ntohl(x->saddr) < ntohl(y->saddr) ? -1 : 1;
	if (x->sport != y->sport)
		return ntohs(x->sport) < ntohs(y->sport) ? -1 : 1;
	return (x->dir > y->dir) - (x->dir < y->dir);
}

/* Walk a map sorted by cmp (on keys): cb gets each key and value. */
static void map_walk(int fd, size_t ksz, size_t vsz,
		     int (*cmp)(const void *, const void *),
		     void (*cb)(const void *k, const void *v, bool *first))
{
	size_t esz = ksz + vsz, n = 0, cap = 0;
	char key[64], next[64], *prev = NULL, *all = NULL, *grown;
	bool first = true;

	while (!bpf_map_get_next_key(fd, prev, next)) {
		memcpy(key, next, ksz);
		prev = key;
		if (n == cap) {
			cap = cap ? 2 * cap : 256;
			grown = realloc(all, cap * esz);
			if (!grown) {
				fprintf(stderr, "berthctl: out of memory\n");
				exit(1);
			}
			all = grown;
		}
		memcpy(all + n * esz, key, ksz);
		if (!bpf_map_lookup_elem(fd, key, all + n * esz + ksz))
			n++;
	}
	qsort(all, n, esz, cmp);
	for (size_t i = 0; i < n; i++)
		cb(all + i * esz, all + i * esz + ksz, &first);
	free(all);
}

static void print_service(const void *k, const void *v, bool *first)
{
	const struct berth_svc_key *key = k;
	const struct berth_svc_val *val = v;
	char ip[INET_ADDRSTRLEN];

	ip_str(key->vip, ip);
	if (json) {
		printf("%s{\"frontend\":\"%s:%u/%s\",\"slot\":%u,",
		       *first ? "" : ",", ip, ntohs(key->dport),
		       proto_str(key->proto), key->slot);
		if (key->slot)
			printf("\"backend_id\":%u}", val->backend_id);
		else
			printf("\"count\":%u,\"flags\":%u,\"rev_nat_id\":%u,\"affinity_timeout\":%u}",
			       val->count, val->flags, val->rev_nat_id,
			       val->affinity_timeout);
	} else if (key->slot) {
		printf("%-22s %-4s slot %-5u backend %u\n", "", "", key->slot,
		       val->backend_id);
	} else {
		char fe[64];

		snprintf(fe, sizeof(fe), "%s:%u", ip, ntohs(key->dport));
		printf("%-22s %-4s %u backends, rev_nat %u%s%s\n", fe,
		       proto_str(key->proto), val->count, val->rev_nat_id,
		       val->flags & BERTH_SVC_F_MAGLEV ? ", maglev" : "",
		       val->flags & BERTH_SVC_F_AFFINITY ? ", affinity" : "");
	}
	*first = false;
}

static void print_backend(const void *k, const void *v, bool *first)
{
	const struct berth_backend *be = v;
	char ip[INET_ADDRSTRLEN];

	ip_str(be->ip, ip);
	if (json)
		printf("%s{\"id\":%u,\"address\":\"%s:%u\",\"proto\":\"%s\",\"terminating\":%s}",
		       *first ? "" : ",", *(const __u32 *)k, ip,
		       ntohs(be->port), proto_str(be->proto),
		       be->flags & BERTH_BACKEND_F_TERMINATING ? "true" :
								 "false");
	else
		printf("%-8u %s:%u/%s%s\n", *(const __u32 *)k, ip,
		       ntohs(be->port), proto_str(be->proto),
		       be->flags & BERTH_BACKEND_F_TERMINATING ?
			       " terminating" :
			       "");
	*first = false;
}

static const char *ct_dir_str(__u8 dir)
{
	switch (dir) {
	case BERTH_CT_SERVICE:
		return "service";
	case BERTH_CT_EGRESS:
		return "egress";
	case BERTH_CT_POLICY:
		return "policy";
	case BERTH_CT_INBOUND:
		return "inbound";
	}
	return "?";
}

static void print_ct(const void *k, const void *v, bool *first)
{
	const struct berth_ct_key *key = k;
	const struct berth_ct_val *val = v;
	char s[INET_ADDRSTRLEN], d[INET_ADDRSTRLEN];
	struct timespec ts;
	long left;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	left = (long)val->lifetime - ts.tv_sec;
	ip_str(key->saddr, s);
	ip_str(key->daddr, d);
	if (json)
		printf("%s{\"dir\":\"%s\",\"proto\":\"%s\",\"src\":\"%s:%u\",\"dst\":\"%s:%u\",\"backend_id\":%u,\"rev_nat_id\":%u,\"expires_in\":%ld,\"flags\":%u}",
		       *first ? "" : ",",
		       ct_dir_str(key->dir),
		       proto_str(key->proto), s, ntohs(key->sport), d,
		       ntohs(key->dport), val->backend_id, val->rev_nat_id,
		       left, val->flags);
	else
		printf("%-7s %s %s:%u -> %s:%u backend %u rev_nat %u expires %lds%s\n",
		       ct_dir_str(key->dir),
		       proto_str(key->proto), s, ntohs(key->sport), d,
		       ntohs(key->dport), val->backend_id, val->rev_nat_id,
		       left, val->flags & BERTH_CT_F_CLOSING ? " closing" : "");
	*first = false;
}

static const char *dir_str(__u8 dir)
{
	switch (dir) {
	case BERTH_DIR_EGRESS:
		return "egress";
	case BERTH_DIR_INGRESS:
		return "ingress";
	case BERTH_DIR_NETDEV:
		return "netdev";
	case BERTH_DIR_OVERLAY:
		return "overlay";
	case BERTH_DIR_XDP:
		return "xdp";
	}
	return "?";
}

static const char *mac_str(const __u8 *m, char *buf)
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2],
		 m[3], m[4], m[5]);
	return buf;
}

/* NAT entries: by address and port, then direction. */
static void print_nat(const void *k, const void *v, bool *first)
{
	const struct berth_ct_key *key = k;
	const struct berth_nat_val *val = v;
	char s[INET_ADDRSTRLEN], d[INET_ADDRSTRLEN], a[INET_ADDRSTRLEN];
	const char *dir = key->dir == BERTH_NAT_OUT ? "out" : "in";
	struct timespec ts;
	long left;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	left = (long)val->lifetime - ts.tv_sec;
	ip_str(key->saddr, s);
	ip_str(key->daddr, d);
	ip_str(val->addr, a);
	if (json)
		printf("%s{\"dir\":\"%s\",\"proto\":\"%s\",\"src\":\"%s:%u\",\"dst\":\"%s:%u\",\"to\":\"%s:%u\",\"rev_nat_id\":%u,\"expires_in\":%ld,\"flags\":%u}",
		       *first ? "" : ",", dir, proto_str(key->proto), s,
		       ntohs(key->sport), d, ntohs(key->dport), a,
		       ntohs(val->port), val->rev_nat_id, left, val->flags);
	else
		printf("%-3s %s %s:%u -> %s:%u %s %s:%u%s expires %lds\n", dir,
		       proto_str(key->proto), s, ntohs(key->sport), d,
		       ntohs(key->dport),
		       key->dir == BERTH_NAT_OUT ? "source" : "destination", a,
		       ntohs(val->port), val->rev_nat_id ? " (nodeport)" : "",
		       left);
	*first = false;
}

static int cmp_be32(const void *a, const void *b)
{
	__u32 x = ntohl(*(const __be32 *)a), y = ntohl(*(const __be32 *)b);

	return (x > y) - (x < y);
}

static void print_rev_nat(const void *k, const void *v, bool *first)
{
	const struct berth_rev_nat *val = v;
	char ip[INET_ADDRSTRLEN];

	ip_str(val->vip, ip);
	if (json)
		printf("%s{\"id\":%u,\"frontend\":\"%s:%u\"}",
		       *first ? "" : ",", *(const __u32 *)k, ip,
		       ntohs(val->port));
	else
		printf("%-8u %s:%u\n", *(const __u32 *)k, ip, ntohs(val->port));
	*first = false;
}

/* By client address, then service. */
static int cmp_affinity(const void *a, const void *b)
{
	const struct berth_affinity_key *x = a, *y = b;
	int c = cmp_be32(&x->client, &y->client);

	return c ? c : cmp_u32(&x->rev_nat_id, &y->rev_nat_id);
}

static void print_affinity(const void *k, const void *v, bool *first)
{
	const struct berth_affinity_key *key = k;
	const struct berth_affinity_val *val = v;
	char ip[INET_ADDRSTRLEN];
	struct timespec ts;
	double idle;

	/* last_used is bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	idle = ((double)ts.tv_sec * 1e9 + ts.tv_nsec - (double)val->last_used) /
	       1e9;
	ip_str(key->client, ip);
	if (json)
		printf("%s{\"client\":\"%s\",\"rev_nat_id\":%u,\"backend_id\":%u,\"idle_seconds\":%.0f}",
		       *first ? "" : ",", ip, key->rev_nat_id, val->backend_id,
		       idle);
	else
		printf("%-15s rev_nat %-5u backend %-5u idle %.0fs\n", ip,
		       key->rev_nat_id, val->backend_id, idle);
	*first = false;
}

static void print_endpoint(const void *k, const void *v, bool *first)
{
	const struct berth_endpoint_info *val = v;
	char ip[INET_ADDRSTRLEN], mac[18], hmac[18], ifname[IF_NAMESIZE];

	ip_str(*(const __be32 *)k, ip);
	mac_str(val->mac, mac);
	mac_str(val->host_mac, hmac);
	if (!if_indextoname(val->ifindex, ifname))
		snprintf(ifname, sizeof(ifname), "?");
	if (json)
		printf("%s{\"ip\":\"%s\",\"ifindex\":%u,\"ifname\":\"%s\",\"mac\":\"%s\",\"host_mac\":\"%s\",\"identity\":%u}",
		       *first ? "" : ",", ip, val->ifindex, ifname, mac, hmac,
		       val->identity);
	else
		printf("%-15s ifindex %-5u %-16s mac %s host %s identity %u\n",
		       ip, val->ifindex, ifname, mac, hmac, val->identity);
	*first = false;
}

static int cmp_ipcache(const void *a, const void *b)
{
	const struct berth_ipcache_key *x = a, *y = b;
	int c = cmp_be32(&x->ip, &y->ip);

	return c ? c :
		   (x->prefixlen > y->prefixlen) -
			       (x->prefixlen < y->prefixlen);
}

static void print_ipcache(const void *k, const void *v, bool *first)
{
	const struct berth_ipcache_key *key = k;
	const struct berth_ipcache_val *val = v;
	char ip[INET_ADDRSTRLEN], tun[INET_ADDRSTRLEN], cidr[32], kind[32];

	ip_str(key->ip, ip);
	ip_str(val->tunnel_ip, tun);
	snprintf(cidr, sizeof(cidr), "%s/%u", ip, key->prefixlen);
	snprintf(kind, sizeof(kind), "%s%s%s",
		 val->flags & BERTH_IPCACHE_F_POD ? "pods" : "",
		 val->flags & BERTH_IPCACHE_F_NODE ? "node" : "",
		 val->flags & BERTH_IPCACHE_F_LOCAL ? ",local" : "");
	if (json)
		printf("%s{\"cidr\":\"%s\",\"tunnel\":\"%s\",\"identity\":%u,\"kind\":\"%s\"}",
		       *first ? "" : ",", cidr, val->tunnel_ip ? tun : "",
		       val->identity, kind);
	else
		printf("%-18s %-12s tunnel %-15s identity %u\n", cidr, kind,
		       val->tunnel_ip ? tun : "-", val->identity);
	*first = false;
}

static int cmd_node(void)
{
	int fd = open_map(BERTH_MAP_NODE);
	struct berth_node_cfg c;
	char ip[INET_ADDRSTRLEN], nmac[18], tmac[18];
	__u32 zero = 0;

	if (bpf_map_lookup_elem(fd, &zero, &c)) {
		fprintf(stderr, "berthctl: read node map: %s\n",
			strerror(errno));
		return 1;
	}
	ip_str(c.node_ip, ip);
	mac_str(c.netdev_mac, nmac);
	mac_str(c.tunnel_mac, tmac);
	if (json)
		printf("{\"node_ip\":\"%s\",\"netdev_ifindex\":%u,\"netdev_mac\":\"%s\",\"tunnel_ifindex\":%u,\"tunnel_mac\":\"%s\",\"vni\":%u,\"masquerade\":%s,\"xdp\":%s,\"nodeport_range\":\"%u-%u\",\"snat_port_range\":\"%u-%u\"}\n",
		       ip, c.netdev_ifindex, nmac, c.tunnel_ifindex, tmac,
		       c.vni,
		       c.flags & BERTH_NODE_F_MASQUERADE ? "true" : "false",
		       c.flags & BERTH_NODE_F_XDP ? "true" : "false",
		       c.nodeport_min, c.nodeport_max, c.snat_port_min,
		       c.snat_port_max);
	else
		printf("node IP         %s\nunderlay        ifindex %u mac %s\n"
		       "tunnel          ifindex %u mac %s vni %u\n"
		       "masquerade      %s\n"
		       "NodePort XDP    %s\nNodePort range  %u-%u\n"
		       "SNAT ports      %u-%u\n",
		       ip, c.netdev_ifindex, nmac, c.tunnel_ifindex, tmac,
		       c.vni, c.flags & BERTH_NODE_F_MASQUERADE ? "on" : "off",
		       c.flags & BERTH_NODE_F_XDP ? "on" : "off",
		       c.nodeport_min, c.nodeport_max, c.snat_port_min,
		       c.snat_port_max);
	return 0;
}

static int cmd_metrics(void)
{
	int fd = open_map(BERTH_MAP_METRICS), ncpu = libbpf_num_possible_cpus();
	struct berth_metrics_key key, next, *prev = NULL;
	struct berth_metrics_val *vals = calloc(ncpu, sizeof(*vals));
	bool first = true;

	if (json)
		printf("[");
	while (vals && !bpf_map_get_next_key(fd, prev, &next)) {
		__u64 pkts = 0, bytes = 0;

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, vals))
			continue;
		for (int i = 0; i < ncpu; i++) {
			pkts += vals[i].packets;
			bytes += vals[i].bytes;
		}
		if (json)
			printf("%s{\"reason\":\"%s\",\"dir\":\"%s\",\"packets\":%llu,\"bytes\":%llu}",
			       first ? "" : ",", berth_reason_str(key.reason),
			       dir_str(key.dir), (unsigned long long)pkts,
			       (unsigned long long)bytes);
		else
			printf("%-40s %-8s %12llu packets %14llu bytes\n",
			       berth_reason_str(key.reason), dir_str(key.dir),
			       (unsigned long long)pkts,
			       (unsigned long long)bytes);
		first = false;
	}
	if (json)
		printf("]\n");
	free(vals);
	return 0;
}

/* The maps `berthctl bpf WHAT` lists, sorted, one entry per line. */
static const struct dump {
	const char *what, *pin;
	size_t ksz, vsz;
	int (*cmp)(const void *, const void *);
	void (*print)(const void *k, const void *v, bool *first);
} dumps[] = {
	{ "services", BERTH_MAP_SERVICES, sizeof(struct berth_svc_key),
	  sizeof(struct berth_svc_val), cmp_svc, print_service },
	{ "backends", BERTH_MAP_BACKENDS, sizeof(__u32),
	  sizeof(struct berth_backend), cmp_u32, print_backend },
	{ "ct", BERTH_MAP_CT, sizeof(struct berth_ct_key),
	  sizeof(struct berth_ct_val), cmp_ct, print_ct },
	{ "nat", BERTH_MAP_NAT, sizeof(struct berth_ct_key),
	  sizeof(struct berth_nat_val), cmp_ct, print_nat },
	{ "endpoints", BERTH_MAP_ENDPOINTS, sizeof(__be32),
	  sizeof(struct berth_endpoint_info), cmp_be32, print_endpoint },
	{ "ipcache", BERTH_MAP_IPCACHE, sizeof(struct berth_ipcache_key),
	  sizeof(struct berth_ipcache_val), cmp_ipcache, print_ipcache },
	{ "rev_nat", BERTH_MAP_REV_NAT, sizeof(__u32),
	  sizeof(struct berth_rev_nat), cmp_u32, print_rev_nat },
	{ "affinity", BERTH_MAP_AFFINITY, sizeof(struct berth_affinity_key),
	  sizeof(struct berth_affinity_val), cmp_affinity, print_affinity },
};

int cmd_bpf(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "node", required_argument, NULL, 'n' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *what;
	size_t i;
	int c, fd;

	optind = 1;
	while ((c = getopt_long(argc, argv, "n:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			node = optarg;
			break;
		case 'o':
			if (strcmp(optarg, "json")) {
				fprintf(stderr,
					"berthctl: -o: only json is supported\n");
				return 2;
			}
			json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind == 1 && !strcmp(argv[optind], "probe"))
		return cmd_probe(json);
	if (argc - optind == 3 && !strcmp(argv[optind], "bpf") &&
	    !strcmp(argv[optind + 1], "policy") && node)
		return cmd_policy(node, argv[optind + 2], json);
	if (argc - optind != 2 || strcmp(argv[optind], "bpf") || !node) {
		usage(stderr);
		return 2;
	}
	what = argv[optind + 1];
	if (!strcmp(what, "metrics"))
		return cmd_metrics();
	if (!strcmp(what, "node"))
		return cmd_node();
	for (i = 0; i < sizeof(dumps) / sizeof(dumps[0]); i++)
		if (!strcmp(what, dumps[i].what))
			break;
	if (i == sizeof(dumps) / sizeof(dumps[0])) {
		fprintf(stderr, "berthctl: unknown map '%s'\n", what);
		usage(stderr);
		return 2;
	}
	fd = open_map(dumps[i].pin);
	if (json)
		printf("[");
	map_walk(fd, dumps[i].ksz, dumps[i].vsz, dumps[i].cmp, dumps[i].print);
	if (json)
		printf("]\n");
	return 0;
}
