// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libFuzzer target: what berth-cni does with its input on ADD before it
 * touches the network: parse the network config (stdin), read CNI_ARGS
 * for the pod's name and namespace, name the host veth from
 * CNI_CONTAINERID/CNI_IFNAME, and build the result merged into a chained
 * prevResult; VERSION's and the error's replies too. The input is
 * "config\0CNI_ARGS\0CNI_CONTAINERID\0CNI_IFNAME" (missing parts empty).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../cni/config.h"
#include "../../cni/result.h"

#define NPARTS 4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Split a NUL-terminated copy of the input at its NUL bytes. */
static char *split(const uint8_t *data, size_t size, const char *part[NPARTS])
{
	char *buf = malloc(size + 1), *p;
	int i;

	if (!buf)
		return NULL;
	memcpy(buf, data, size);
	buf[size] = '\0';
	for (i = 0, p = buf; i < NPARTS; i++) {
		part[i] = p;
		p += strlen(p);
		if (p < buf + size)
			p++; /* past this part's NUL; else stay on the last */
	}
	return buf;
}

/* A reply must print as JSON that parses back. */
static void check_print(json_object *o)
{
	json_object *back;

	if (!o)
		abort();
	back = json_tokener_parse(json_object_to_json_string(o));
	if (!back || !json_object_equal(o, back))
		abort();
	json_object_put(back);
	json_object_put(o);
}

static void add_result(struct berth_cni_conf *conf, const char *args,
		       const char *id, const char *ifname)
{
	char pod[256] = "", ns[256] = "", host[16], mac[] = "02:00:00:00:00:01";
	json_object *prev = NULL, *ours;
	struct berth_cni_ifaces res;
	unsigned int prefix = 0;
	uint32_t net = 0;

	berth_cni_args_get(args, "K8S_POD_NAME", pod, sizeof(pod));
	berth_cni_args_get(args, "K8S_POD_NAMESPACE", ns, sizeof(ns));
	berth_cni_host_ifname(id, ifname, host);
	if (strlen(host) != 15)
		abort();
	if (conf->pod_cidr[0] &&
	    berth_cni_parse_cidr(conf->pod_cidr, &net, &prefix))
		abort(); /* the parser accepted it */
	res = (struct berth_cni_ifaces){ .host = host,
					 .host_mac = mac,
					 .ifname = ifname,
					 .mac = mac,
					 .netns = "/var/run/netns/fuzz",
					 .ip = net + 2 };
	ours = berth_cni_result(conf->cni_version, &res);
	json_object_object_get_ex(conf->root, "prevResult", &prev);
	check_print(berth_cni_result_merge(prev, ours));
	json_object_put(ours);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct berth_cni_conf conf;
	struct berth_cni_err err;
	const char *part[NPARTS];
	json_object *o, *v = NULL;
	char *buf;

	if (size > (1 << 20))
		return 0;
	buf = split(data, size, part);
	if (!buf)
		return 0;
	/* VERSION reads cniVersion out of any JSON */
	o = json_tokener_parse(part[0]);
	if (o)
		json_object_object_get_ex(o, "cniVersion", &v);
	check_print(
		berth_cni_version_reply(v ? json_object_get_string(v) : NULL));
	json_object_put(o);
	if (berth_cni_conf_parse(part[0], &conf, &err)) {
		if (conf.root)
			abort(); /* a failed parse keeps nothing */
		check_print(berth_cni_error(NULL, &err));
	} else {
		add_result(&conf, part[1], part[2], part[3]);
		berth_cni_conf_free(&conf);
	}
	free(buf);
	return 0;
}
