// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Network config parsing, version negotiation and small CNI helpers. */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

const char *const berth_cni_versions[] = { "0.3.0", "0.3.1", "0.4.0",
					   "1.0.0", "1.1.0", NULL };

int berth_cni_version_supported(const char *v)
{
	for (int i = 0; berth_cni_versions[i]; i++)
		if (!strcmp(v, berth_cni_versions[i]))
			return 1;
	return 0;
}

int berth_cni_version_cmp(const char *a, const char *b)
{
	unsigned int x[3] = { 0 }, y[3] = { 0 };

	sscanf(a, "%u.%u.%u", &x[0], &x[1], &x[2]);
	sscanf(b, "%u.%u.%u", &y[0], &y[1], &y[2]);
	for (int i = 0; i < 3; i++)
		if (x[i] != y[i])
			return x[i] < y[i] ? -1 : 1;
	return 0;
}

static void set_err(struct berth_cni_err *err, int code, const char *fmt,
		    const char *a, const char *b)
{
	err->code = code;
	snprintf(err->msg, sizeof(err->msg), fmt, a, b);
	err->details[0] = '\0';
}

/* Copy an optional string field; -EINVAL if not a string or too long. */
static int get_str(json_object *o, const char *key, char *buf, size_t len,
		   struct berth_cni_err *err)
{
	json_object *v;
	const char *s;

	if (!json_object_object_get_ex(o, key, &v) || !v)
		return 0;
	if (!json_object_is_type(v, json_type_string)) {
		set_err(err, CNI_ERR_INVALID_CONFIG, "%s: must be a string",
			key, NULL);
		return -EINVAL;
	}
	s = json_object_get_string(v);
	if (strlen(s) >= len) {
		set_err(err, CNI_ERR_INVALID_CONFIG, "%s: longer than %s",
			key, len >= 256 ? "255" : len >= 108 ? "107" : "31");
		return -EINVAL;
	}
	strcpy(buf, s);
	return 0;
}

int berth_cni_parse_cidr(const char *s, uint32_t *net, unsigned int *prefix)
{
	char ip[INET_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	struct in_addr a;
	unsigned long p;
	char *end;

	if (!slash || slash - s >= (long)sizeof(ip))
		return -EINVAL;
	memcpy(ip, s, slash - s);
	ip[slash - s] = '\0';
	if (inet_pton(AF_INET, ip, &a) != 1)
		return -EINVAL;
	errno = 0;
	p = strtoul(slash + 1, &end, 10);
	if (errno || *end || end == slash + 1 || p < 8 || p > 30)
		return -EINVAL;
	*prefix = p;
	*net = ntohl(a.s_addr) & (p ? ~0u << (32 - p) : 0);
	return 0;
}

/*
 * JSON has no NaN or Infinity, but json-c's tokener takes them: a config
 * holding one would be copied (prevResult) into a result no runtime can
 * parse. The tokener's depth limit bounds the recursion.
 */
static bool nonfinite(json_object *o)
{
	size_t n;

	switch (json_object_get_type(o)) {
	case json_type_double:
		return !isfinite(json_object_get_double(o));
	case json_type_array:
		n = json_object_array_length(o);
		for (size_t i = 0; i < n; i++)
			if (nonfinite(json_object_array_get_idx(o, i)))
				return true;
		return false;
	case json_type_object: {
		json_object_object_foreach(o, k, v)
		{
			(void)k;
			if (nonfinite(v))
				return true;
		}
		return false;
	}
	default:
		return false;
	}
}

int berth_cni_conf_parse(const char *text, struct berth_cni_conf *conf,
			 struct berth_cni_err *err)
{
	enum json_tokener_error jerr;
	json_object *o, *v, *ipam;
	uint32_t net;
	unsigned int prefix;

	memset(conf, 0, sizeof(*conf));
	conf->mtu = BERTH_CNI_DEFAULT_MTU;
	strcpy(conf->agent_socket, BERTH_CNI_DEFAULT_SOCKET);
	o = json_tokener_parse_verbose(text, &jerr);
	if (!o) {
		set_err(err, CNI_ERR_DECODE, "decode network config: %s%s",
			json_tokener_error_desc(jerr), "");
		return -EINVAL;
	}
	conf->root = o;
	if (nonfinite(o)) {
		set_err(err, CNI_ERR_DECODE,
			"decode network config: NaN or Infinity is not JSON%s%s",
			"", "");
		goto fail;
	}
	if (!json_object_is_type(o, json_type_object)) {
		set_err(err, CNI_ERR_DECODE,
			"decode network config: not a JSON object%s%s", "", "");
		goto fail;
	}
	if (get_str(o, "cniVersion", conf->cni_version,
		    sizeof(conf->cni_version), err) ||
	    get_str(o, "name", conf->name, sizeof(conf->name), err) ||
	    get_str(o, "agentSocket", conf->agent_socket,
		    sizeof(conf->agent_socket), err))
		goto fail;
	if (!conf->cni_version[0]) {
		set_err(err, CNI_ERR_INVALID_CONFIG,
			"network config has no cniVersion%s%s", "", "");
		goto fail;
	}
	if (!berth_cni_version_supported(conf->cni_version)) {
		set_err(err, CNI_ERR_INCOMPATIBLE_VERSION,
			"cniVersion %s is not supported (supported: %s)",
			conf->cni_version, "0.3.0 0.3.1 0.4.0 1.0.0 1.1.0");
		goto fail;
	}
	if (!conf->name[0]) {
		set_err(err, CNI_ERR_INVALID_CONFIG,
			"network config has no name%s%s", "", "");
		goto fail;
	}
	if (strchr(conf->name, '/') || !strcmp(conf->name, ".") ||
	    !strcmp(conf->name, "..")) {
		set_err(err, CNI_ERR_INVALID_CONFIG,
			"network name '%s' is not usable as a directory name%s",
			conf->name, "");
		goto fail;
	}
	if (!conf->agent_socket[0]) {
		set_err(err, CNI_ERR_INVALID_CONFIG, "agentSocket is empty%s%s",
			"", "");
		goto fail;
	}
	if (json_object_object_get_ex(o, "mtu", &v)) {
		int64_t mtu = json_object_get_int64(v);

		if (!json_object_is_type(v, json_type_int) || mtu < 68 ||
		    mtu > 65535) {
			set_err(err, CNI_ERR_INVALID_CONFIG,
				"mtu: must be an integer in [68, 65535]%s%s",
				"", "");
			goto fail;
		}
		conf->mtu = mtu;
		conf->mtu_set = 1;
	}
	if (json_object_object_get_ex(o, "ipam", &ipam) && ipam) {
		if (!json_object_is_type(ipam, json_type_object)) {
			set_err(err, CNI_ERR_INVALID_CONFIG,
				"ipam: must be an object%s%s", "", "");
			goto fail;
		}
		if (get_str(ipam, "podCIDR", conf->pod_cidr,
			    sizeof(conf->pod_cidr), err) ||
		    get_str(ipam, "dataDir", conf->data_dir,
			    sizeof(conf->data_dir), err))
			goto fail;
		if (conf->pod_cidr[0] &&
		    berth_cni_parse_cidr(conf->pod_cidr, &net, &prefix)) {
			set_err(err, CNI_ERR_INVALID_CONFIG,
				"ipam.podCIDR '%s' is not an IPv4 CIDR with a prefix of at most /30%s",
				conf->pod_cidr, "");
			goto fail;
		}
	}
	if (!conf->data_dir[0]) {
		char dir[sizeof(conf->agent_socket)];
		char *slash;

		strcpy(dir, conf->agent_socket);
		slash = strrchr(dir, '/');
		if (slash)
			*slash = '\0';
		if (snprintf(conf->data_dir, sizeof(conf->data_dir),
			     "%s/ipam/%s", slash ? dir : ".", conf->name) >=
		    (int)sizeof(conf->data_dir)) {
			set_err(err, CNI_ERR_INVALID_CONFIG,
				"ipam dataDir for network %s too long%s",
				conf->name, "");
			goto fail;
		}
	}
	return 0;
fail:
	berth_cni_conf_free(conf);
	return -EINVAL;
}

void berth_cni_conf_free(struct berth_cni_conf *conf)
{
	json_object_put(conf->root);
	conf->root = NULL;
}

int berth_cni_args_get(const char *args, const char *key, char *buf,
		       size_t len)
{
	size_t klen = strlen(key);
	const char *p = args;

	while (p && *p) {
		const char *end = strchr(p, ';');
		size_t n = end ? (size_t)(end - p) : strlen(p);

		if (n > klen && !strncmp(p, key, klen) && p[klen] == '=') {
			n -= klen + 1;
			if (n >= len)
				n = len - 1;
			memcpy(buf, p + klen + 1, n);
			buf[n] = '\0';
			return 0;
		}
		p = end ? end + 1 : NULL;
	}
	return -ENOENT;
}

void berth_cni_host_ifname(const char *container_id, const char *ifname,
			   char out[16])
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a 64 */

	for (const char *p = container_id; *p; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
	h = (h ^ '/') * 0x100000001b3ull;
	for (const char *p = ifname; *p; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
	snprintf(out, 16, "lxc%012llx",
		 (unsigned long long)(h & 0xffffffffffffull));
}
