/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* berth-cni's network configuration (stdin) and CNI_* environment. */
#ifndef BERTH_CNI_CONFIG_H
#define BERTH_CNI_CONFIG_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#define BERTH_CNI_DEFAULT_SOCKET "/var/lib/berth/agent.sock"
#define BERTH_CNI_DEFAULT_MTU 1500

/* CNI error codes (spec "Error codes"); 100+ are berth's own */
enum berth_cni_code {
	CNI_ERR_INCOMPATIBLE_VERSION = 1,
	CNI_ERR_UNSUPPORTED_FIELD = 2,
	CNI_ERR_UNKNOWN_CONTAINER = 3,
	CNI_ERR_INVALID_ENV = 4,
	CNI_ERR_IO = 5,
	CNI_ERR_DECODE = 6,
	CNI_ERR_INVALID_CONFIG = 7,
	CNI_ERR_TRY_AGAIN = 11,
	CNI_ERR_NOT_AVAILABLE = 50,
	CNI_ERR_INTERNAL = 100,
	CNI_ERR_IPAM_EXHAUSTED = 101,
};

struct berth_cni_conf {
	char cni_version[16];
	char name[128];
	char agent_socket[108];
	char pod_cidr[32];	/* "" : ask the agent */
	char data_dir[256];	/* IPAM state; "" : <dir of agentSocket>/ipam/<name> */
	uint32_t mtu;
	/* "mtu" was in the config: it wins over the agent's (status "mtu") */
	int mtu_set;
	json_object *root;	/* the whole config (prevResult, valid-attachments) */
};

/* A CNI error: code, message, optional details. */
struct berth_cni_err {
	int code;
	char msg[512];
	char details[512];
};

/* supportedVersions, NULL-terminated */
extern const char *const berth_cni_versions[];

/* Is v a version this plugin speaks? */
int berth_cni_version_supported(const char *v);
/* -1, 0, 1 as a <, ==, > b (semantic versions "x.y.z") */
int berth_cni_version_cmp(const char *a, const char *b);

/*
 * Parse the network config text. Fills *err (code 6 for bad JSON, 7 for a
 * bad field, 1 for an unsupported cniVersion) and returns -EINVAL on error.
 * berth_cni_conf_free() releases conf->root.
 */
int berth_cni_conf_parse(const char *text, struct berth_cni_conf *conf,
			 struct berth_cni_err *err);
void berth_cni_conf_free(struct berth_cni_conf *conf);

/* Parse "a.b.c.d/n" (IPv4, 8 <= n <= 30); 0 or -EINVAL. */
int berth_cni_parse_cidr(const char *s, uint32_t *net, unsigned int *prefix);

/* Value of KEY in CNI_ARGS ("K1=V1;K2=V2") into buf; 0 or -ENOENT. */
int berth_cni_args_get(const char *args, const char *key, char *buf,
		       size_t len);

/* The host-side veth name for a container interface: "lxc" + 12 hex. */
void berth_cni_host_ifname(const char *container_id, const char *ifname,
			   char out[16]);

#endif
