// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A node's datapath without an agent, for tests/bpf/route_netns.sh: load
 * the programs on a pin directory, attach them to devices, fill the routing
 * maps. One action per run; run it in the node's netns (nsenter --net).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <linux/pkt_cls.h>

#include <berth/abi/route.h>
#include <berth/datapath.h>
#include <berth/lbmap.h>
#include <berth/log.h>
#include <berth/netdev.h>

static int usage(void)
{
	fprintf(stderr,
		"usage: route-loader PIN_DIR ACTION ...\n"
		"  open                                load and pin\n"
		"  attach-pod IFNAME                   from_pod/to_pod on a host veth\n"
		"  attach-overlay IFNAME               overlay on the VXLAN device\n"
		"  attach-netdev IFNAME auto|tc|xdp    host (+ XDP) on the underlay\n"
		"  node NODE_IP NETDEV TUNNELDEV [masquerade]\n"
		"  endpoint POD_IP HOST_IFNAME POD_MAC\n"
		"  ipcache CIDR TUNNEL_IP local-pod|pod|node\n"
		"  service VIP PORT tcp|udp BACKEND_IP:PORT...\n"
		"  unpin\n"
		"route-loader xdp-pass IFNAME          an XDP program that passes all\n"
		"route-loader xdp-cut IFNAME           ... that drops VXLAN, passes the rest\n"
		"route-loader tc-cut IFNAME egress|ingress|off\n"
		"                                      tc: drop UDP, pass the rest\n");
	return 2;
}

static int parse_ip(const char *s, uint32_t *ip)
{
	if (inet_pton(AF_INET, s, ip) != 1) {
		fprintf(stderr, "not an IPv4 address: %s\n", s);
		return -EINVAL;
	}
	return 0;
}

static int parse_mac(const char *s, uint8_t *mac)
{
	unsigned int m[6];

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4],
		   &m[5]) != 6) {
		fprintf(stderr, "not a MAC address: %s\n", s);
		return -EINVAL;
	}
	for (int i = 0; i < 6; i++)
		mac[i] = m[i];
	return 0;
}

static int if_mac(const char *ifname, uint8_t *mac)
{
	int err = berth_netdev_mac_mtu(ifname, mac, NULL);

	if (err)
		fprintf(stderr, "MAC of %s: %s\n", ifname, strerror(-err));
	return err;
}

static int set_node(struct berth_dp *dp, int argc, char **argv)
{
	struct berth_node_cfg cfg = {
		.nodeport_min = BERTH_NODEPORT_MIN,
		.nodeport_max = BERTH_NODEPORT_MAX,
		.snat_port_min = BERTH_SNAT_PORT_MIN,
		.snat_port_max = BERTH_SNAT_PORT_MAX,
	};
	uint32_t zero = 0;

	if (argc < 3)
		return usage();
	if (parse_ip(argv[0], &cfg.node_ip))
		return -EINVAL;
	cfg.netdev_ifindex = if_nametoindex(argv[1]);
	cfg.tunnel_ifindex = if_nametoindex(argv[2]);
	if (!cfg.netdev_ifindex || !cfg.tunnel_ifindex) {
		fprintf(stderr, "no device %s or %s\n", argv[1], argv[2]);
		return -ENODEV;
	}
	if (if_mac(argv[1], cfg.netdev_mac) || if_mac(argv[2], cfg.tunnel_mac))
		return -ENODEV;
	if (argc > 3 && !strcmp(argv[3], "masquerade"))
		cfg.flags |= BERTH_NODE_F_MASQUERADE;
	return bpf_map_update_elem(dp->node.fd, &zero, &cfg, 0) ? -errno : 0;
}

static int set_endpoint(struct berth_dp *dp, int argc, char **argv)
{
	struct berth_endpoint_info ep = {};
	uint32_t ip;

	if (argc < 3)
		return usage();
	if (parse_ip(argv[0], &ip) || parse_mac(argv[2], ep.mac))
		return -EINVAL;
	ep.ifindex = if_nametoindex(argv[1]);
	if (!ep.ifindex || if_mac(argv[1], ep.host_mac))
		return -ENODEV;
	return bpf_map_update_elem(dp->endpoints.fd, &ip, &ep, 0) ? -errno : 0;
}

static int set_ipcache(struct berth_dp *dp, int argc, char **argv)
{
	struct berth_ipcache_key k = {};
	struct berth_ipcache_val v = {};
	char cidr[32], *slash;

	if (argc < 3)
		return usage();
	snprintf(cidr, sizeof(cidr), "%s", argv[0]);
	slash = strchr(cidr, '/');
	if (!slash)
		return usage();
	*slash = '\0';
	k.prefixlen = atoi(slash + 1);
	if (k.prefixlen > 32 || parse_ip(cidr, &k.ip) ||
	    parse_ip(argv[1], &v.tunnel_ip))
		return -EINVAL;
	if (!strcmp(argv[2], "local-pod"))
		v.flags = BERTH_IPCACHE_F_LOCAL | BERTH_IPCACHE_F_POD;
	else if (!strcmp(argv[2], "pod"))
		v.flags = BERTH_IPCACHE_F_POD;
	else if (!strcmp(argv[2], "node"))
		v.flags = BERTH_IPCACHE_F_NODE;
	else
		return usage();
	return bpf_map_update_elem(dp->ipcache.fd, &k, &v, 0) ? -errno : 0;
}

/* The maps hold exactly this one frontend afterwards. */
static int set_service(struct berth_dp *dp, int argc, char **argv)
{
	struct berth_fe_backend be[16] = {};
	struct berth_frontend fe = { .backends = be };
	struct berth_lbmap_maps maps;
	struct berth_sync_stats st;
	struct berth_lbmap *lb;
	char err[256] = "", ip[32], *colon;
	int ret;

	if (argc < 4 || argc - 3 > 16)
		return usage();
	if (parse_ip(argv[0], &fe.vip))
		return -EINVAL;
	fe.port = htons(atoi(argv[1]));
	fe.proto = strcmp(argv[2], "udp") ? IPPROTO_TCP : IPPROTO_UDP;
	for (int i = 3; i < argc; i++) {
		snprintf(ip, sizeof(ip), "%s", argv[i]);
		colon = strchr(ip, ':');
		if (!colon)
			return usage();
		*colon = '\0';
		if (parse_ip(ip, &be[fe.nbackends].ip))
			return -EINVAL;
		be[fe.nbackends++].port = htons(atoi(colon + 1));
	}
	berth_dp_lbmap_maps(dp, &maps);
	ret = berth_lbmap_open(&lb, &maps);
	if (ret)
		return ret;
	ret = berth_lbmap_sync(lb, &fe, 1, &st, err, sizeof(err));
	if (ret)
		fprintf(stderr, "sync: %s\n", err);
	berth_lbmap_free(lb);
	return ret;
}

static int attach_netdev(struct berth_dp *dp, int argc, char **argv)
{
	enum berth_nodeport_accel accel = BERTH_NODEPORT_AUTO;
	const char *mode = "none";
	int ret;

	if (argc < 2)
		return usage();
	if (!strcmp(argv[1], "tc"))
		accel = BERTH_NODEPORT_TC;
	else if (!strcmp(argv[1], "xdp"))
		accel = BERTH_NODEPORT_XDP;
	ret = berth_dp_attach_netdev(dp, argv[0], accel, &mode);
	if (!ret)
		printf("xdp %s\n", mode);
	return ret;
}

static int act(struct berth_dp *dp, const char *action, int argc, char **argv)
{
	if (!strcmp(action, "open"))
		return 0;
	if (!strcmp(action, "attach-pod") && argc > 0)
		return berth_dp_attach(dp, argv[0]);
	if (!strcmp(action, "attach-overlay") && argc > 0)
		return berth_dp_attach_overlay(dp, argv[0]);
	if (!strcmp(action, "attach-netdev"))
		return attach_netdev(dp, argc, argv);
	if (!strcmp(action, "node"))
		return set_node(dp, argc, argv);
	if (!strcmp(action, "endpoint"))
		return set_endpoint(dp, argc, argv);
	if (!strcmp(action, "ipcache"))
		return set_ipcache(dp, argc, argv);
	if (!strcmp(action, "service"))
		return set_service(dp, argc, argv);
	return usage();
}

/*
 * A veth's XDP_TX lands in its peer's ring, which is only flushed when the
 * peer has an XDP program too: the underlay's far ends get this one.
 */
static int xdp_load(const char *ifname, const char *name,
		    const struct bpf_insn *insns, size_t n)
{
	int ifindex = if_nametoindex(ifname), fd, err;

	if (!ifindex) {
		fprintf(stderr, "no device %s\n", ifname);
		return 1;
	}
	fd = bpf_prog_load(BPF_PROG_TYPE_XDP, name, "GPL", insns, n, NULL);
	if (fd < 0) {
		fprintf(stderr, "load %s: %s\n", name, strerror(-fd));
		return 1;
	}
	/* replaces what the device had (xdp-pass and xdp-cut take turns) */
	err = bpf_xdp_attach(ifindex, fd, XDP_FLAGS_DRV_MODE, NULL);
	close(fd);
	if (err)
		fprintf(stderr, "attach %s to %s: %s\n", name, ifname,
			strerror(-err));
	return err ? 1 : 0;
}

static int xdp_pass(const char *ifname)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K,
		  .dst_reg = BPF_REG_0,
		  .imm = XDP_PASS },
		{ .code = BPF_JMP | BPF_EXIT },
	};

	return xdp_load(ifname, "xdp_pass", insns, 2);
}

#define LDX(sz, d, s, o)                                                      \
	{                                                                     \
		.code = BPF_LDX | BPF_MEM | (sz), .dst_reg = d, .src_reg = s, \
		.off = o                                                      \
	}
#define JNE(d, k, o)                                                       \
	{                                                                  \
		.code = BPF_JMP | BPF_JNE | BPF_K, .dst_reg = d, .off = o, \
		.imm = k                                                   \
	}
#define RET(v)                                 \
	{ .code = BPF_ALU64 | BPF_MOV | BPF_K, \
	  .dst_reg = BPF_REG_0,                \
	  .imm = v },                          \
	{                                      \
		.code = BPF_JMP | BPF_EXIT     \
	}

/*
 * The frame at r2 (data, from the context at data_off; r3 its end), when
 * it has len bytes and is IPv4; else a jump over the next `out`
 * instructions after it (the jumps count from its last two).
 */
#define IPV4_FRAME(data_off, end_off, len, out)            \
	LDX(BPF_W, BPF_REG_2, BPF_REG_1, data_off),        \
		LDX(BPF_W, BPF_REG_3, BPF_REG_1, end_off), \
		{ .code = BPF_ALU64 | BPF_MOV | BPF_X,     \
		  .dst_reg = BPF_REG_4,                    \
		  .src_reg = BPF_REG_2 },                  \
		{ .code = BPF_ALU64 | BPF_ADD | BPF_K,     \
		  .dst_reg = BPF_REG_4,                    \
		  .imm = len },                            \
		{ .code = BPF_JMP | BPF_JGT | BPF_X,       \
		  .dst_reg = BPF_REG_4,                    \
		  .src_reg = BPF_REG_3,                    \
		  .off = out },                            \
		LDX(BPF_H, BPF_REG_5, BPF_REG_2, 12),      \
		JNE(BPF_REG_5, htons(0x0800), (out)-2)

/*
 * bench/net: drop the VXLAN a node sends where it reaches the wire (IPv4
 * without options, UDP to BERTH_VXLAN_PORT), pass the rest: the other
 * node is cut off and the entry node alone measured. The veth counts the
 * drops (ethtool -S: xdp_drops).
 */
static int xdp_cut(const char *ifname)
{
	const struct bpf_insn insns[] = {
		IPV4_FRAME(offsetof(struct xdp_md, data),
			   offsetof(struct xdp_md, data_end), 38, 10),
		LDX(BPF_B, BPF_REG_5, BPF_REG_2, 14),
		JNE(BPF_REG_5, 0x45, 6),
		LDX(BPF_B, BPF_REG_5, BPF_REG_2, 23),
		JNE(BPF_REG_5, IPPROTO_UDP, 4),
		LDX(BPF_H, BPF_REG_5, BPF_REG_2, 36),
		JNE(BPF_REG_5, htons(BERTH_VXLAN_PORT), 2),
		RET(XDP_DROP), /* two instructions each */
		RET(XDP_PASS),
	};

	return xdp_load(ifname, "xdp_cut", insns,
			sizeof(insns) / sizeof(insns[0]));
}

/*
 * bench/net: drop UDP over IPv4 at a wire port, on the way out toward a
 * node (egress: everything up to the node timed without it) or on the way
 * in from it (ingress: the node's skbs, where xdp-cut would first copy
 * each into a page). "off" removes the port's clsact hook and the program.
 */
static int tc_cut(const char *ifname, const char *where)
{
	const struct bpf_insn insns[] = {
		IPV4_FRAME(offsetof(struct __sk_buff, data),
			   offsetof(struct __sk_buff, data_end), 24, 6),
		LDX(BPF_B, BPF_REG_5, BPF_REG_2, 23),
		JNE(BPF_REG_5, IPPROTO_UDP, 2),
		RET(TC_ACT_SHOT), /* two instructions each */
		RET(TC_ACT_OK),
	};
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = if_nametoindex(ifname),
		    .attach_point = strcmp(where, "ingress") ? BPF_TC_EGRESS :
							       BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts);
	int fd, err;

	if (!hook.ifindex) {
		fprintf(stderr, "no device %s\n", ifname);
		return 1;
	}
	if (!strcmp(where, "off")) {
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		err = bpf_tc_hook_destroy(&hook);
		return err && err != -ENOENT ? 1 : 0;
	}
	fd = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "tc_cut", "GPL", insns,
			   sizeof(insns) / sizeof(insns[0]), NULL);
	if (fd < 0) {
		fprintf(stderr, "load tc_cut: %s\n", strerror(-fd));
		return 1;
	}
	err = bpf_tc_hook_create(&hook);
	if (!err || err == -EEXIST) {
		opts.prog_fd = fd;
		err = bpf_tc_attach(&hook, &opts);
	}
	close(fd);
	if (err)
		fprintf(stderr, "attach tc_cut to %s: %s\n", ifname,
			strerror(-err));
	return err ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct berth_dp_config cfg = {};
	struct berth_dp *dp;
	int ret;

	if (argc == 3 && !strcmp(argv[1], "xdp-pass"))
		return xdp_pass(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "xdp-cut"))
		return xdp_cut(argv[2]);
	if (argc == 4 && !strcmp(argv[1], "tc-cut"))
		return tc_cut(argv[2], argv[3]);
	if (argc < 3)
		return usage();
	if (!strcmp(argv[2], "unpin"))
		return berth_dp_unpin(argv[1]) ? 1 : 0;
	cfg.pin_dir = argv[1];
	ret = berth_dp_open(&dp, &cfg);
	if (ret) {
		fprintf(stderr, "open datapath on %s: %s\n", argv[1],
			strerror(-ret));
		return 1;
	}
	ret = act(dp, argv[2], argc - 3, argv + 3);
	berth_dp_close(dp);
	if (ret > 0)
		return ret;
	if (ret < 0)
		fprintf(stderr, "%s: %s\n", argv[2], strerror(-ret));
	return ret ? 1 : 0;
}
