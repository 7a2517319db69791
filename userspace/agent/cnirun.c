// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The runtime side of CNI: find the network config, exec the plugin chain. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include <berth/log.h>

#include "cnirun.h"
#include "runtime_int.h"

#define CNI_TIMEOUT_MS 60000
#define CNI_MAX_OUT (256 * 1024)

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static bool conf_name(const char *n)
{
	size_t l = strlen(n);

	return (l > 9 && !strcmp(n + l - 9, ".conflist")) ||
	       (l > 5 && !strcmp(n + l - 5, ".conf")) ||
	       (l > 5 && !strcmp(n + l - 5, ".json"));
}

/* The first config in conf_dir, as a conflist ({name, cniVersion, plugins}) */
static json_object *load_conflist(const char *conf_dir, char *err,
				  size_t errlen)
{
	struct dirent **ents;
	json_object *conf = NULL;
	int n = scandir(conf_dir, &ents, NULL, by_name);

	if (n < 0) {
		snprintf(err, errlen, "read CNI conf dir %s: %s", conf_dir,
			 strerror(errno));
		return NULL;
	}
	for (int i = 0; i < n; i++) {
		if (!conf && conf_name(ents[i]->d_name)) {
			char path[4096];

			snprintf(path, sizeof(path), "%s/%s", conf_dir,
				 ents[i]->d_name);
			conf = json_object_from_file(path);
			if (!conf)
				snprintf(err, errlen, "%s: not valid JSON", path);
			else if (!json_object_object_get_ex(conf, "plugins",
							    NULL)) {
				/* a single .conf: wrap it */
				json_object *list = json_object_new_object();
				json_object *plugins = json_object_new_array();
				json_object *v;

				if (json_object_object_get_ex(conf, "name", &v))
					json_object_object_add(list, "name",
							       json_object_get(v));
				if (json_object_object_get_ex(conf, "cniVersion", &v))
					json_object_object_add(list, "cniVersion",
							       json_object_get(v));
				json_object_array_add(plugins, conf);
				json_object_object_add(list, "plugins", plugins);
				conf = list;
			}
		}
		free(ents[i]);
	}
	free(ents);
	if (!conf && !err[0])
		snprintf(err, errlen, "no CNI network config (*.conflist) in %s",
			 conf_dir);
	return conf;
}

/* The first executable DIR/type of bin_dirs (':' or ',' between dirs). */
static int find_plugin(const char *bin_dirs, const char *type, char *path,
		       size_t len)
{
	const char *d = bin_dirs, *end;

	if (strchr(type, '/'))
		return -EINVAL;
	while (*d) {
		end = d + strcspn(d, ":,");
		if (end > d) {
			snprintf(path, len, "%.*s/%s", (int)(end - d), d, type);
			if (!access(path, X_OK))
				return 0;
		}
		d = *end ? end + 1 : end;
	}
	return -ENOENT;
}

/* exec type from bin_dir with env and stdin; stdout into *out; exit status */
static int exec_plugin(const char *bin_dir, const char *type,
		       char *const envp[], const char *in, char **out)
{
	int pin[2], pout[2], status = 0;
	size_t len = 0, cap = 8192, off = 0, inlen = strlen(in);
	char path[4096], *buf = malloc(cap);
	pid_t pid;
	uint64_t deadline;
	struct timespec ts;

	*out = NULL;
	if (!buf)
		return -ENOMEM;
	if (find_plugin(bin_dir, type, path, sizeof(path))) {
		free(buf);
		return -ENOENT;
	}
	if (pipe2(pin, O_CLOEXEC) || pipe2(pout, O_CLOEXEC)) {
		free(buf);
		return -errno;
	}
	/* posix_spawn: a vfork-like clone, no copy of the agent's page
	 * tables (a fork of the agent costs more than the plugin) */
	{
		posix_spawn_file_actions_t fa;
		int e;

		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_adddup2(&fa, pin[0], 0);
		posix_spawn_file_actions_adddup2(&fa, pout[1], 1);
		e = posix_spawn(&pid, path, &fa, NULL,
				(char *const[]){ path, NULL }, envp);
		posix_spawn_file_actions_destroy(&fa);
		close(pin[0]);
		close(pout[1]);
		if (e) {
			close(pin[1]);
			close(pout[0]);
			free(buf);
			return -e;
		}
	}
	fcntl(pin[1], F_SETFL, O_NONBLOCK);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	deadline = ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000 + CNI_TIMEOUT_MS;
	for (;;) {
		struct pollfd pfd[2] = { { .fd = pout[0], .events = POLLIN },
					 { .fd = pin[1], .events = POLLOUT } };
		uint64_t now;
		int np = pin[1] >= 0 ? 2 : 1, r;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		now = ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
		if (now >= deadline) {
			kill(pid, SIGKILL);
			break;
		}
		r = poll(pfd, np, deadline - now);
		if (r < 0 && errno != EINTR)
			break;
		if (np == 2 && (pfd[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
			ssize_t w = write(pin[1], in + off, inlen - off);

			if (w > 0)
				off += w;
			if (w < 0 || off == inlen) {
				close(pin[1]);
				pin[1] = -1;
			}
		}
		if (pfd[0].revents & (POLLIN | POLLHUP)) {
			ssize_t rd;

			if (cap - len < 4096 && cap < CNI_MAX_OUT) {
				char *nb = realloc(buf, cap * 2);

				if (nb) {
					buf = nb;
					cap *= 2;
				}
			}
			rd = read(pout[0], buf + len, cap - len - 1);
			if (rd <= 0)
				break;
			len += rd;
		}
	}
	if (pin[1] >= 0)
		close(pin[1]);
	close(pout[0]);
	waitpid(pid, &status, 0);
	buf[len] = 0;
	*out = buf;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

static void plugin_error(const char *type, int rc, const char *out, char *err,
			 size_t errlen)
{
	json_object *o = out ? json_tokener_parse(out) : NULL, *m, *d;

	if (json_object_object_get_ex(o, "msg", &m)) {
		snprintf(err, errlen, "plugin %s failed: %s%s%s", type,
			 json_object_get_string(m),
			 json_object_object_get_ex(o, "details", &d) ? ": " : "",
			 json_object_object_get_ex(o, "details", &d) ?
				 json_object_get_string(d) :
				 "");
	} else if (rc == 127) {
		snprintf(err, errlen, "plugin %s: could not exec", type);
	} else {
		snprintf(err, errlen, "plugin %s failed with status %d: %.200s",
			 type, rc, out ? out : "");
	}
	json_object_put(o);
}

/* runtimeConfig: the capability arguments this plugin declares it takes */
static void add_runtime_config(json_object *conf, json_object *args)
{
	json_object *caps, *rc = NULL, *v;

	if (!args || !json_object_object_get_ex(conf, "capabilities", &caps) ||
	    !json_object_is_type(caps, json_type_object))
		return;
	json_object_object_foreach(caps, key, on)
	{
		if (!json_object_get_boolean(on) ||
		    !json_object_object_get_ex(args, key, &v))
			continue;
		if (!rc)
			rc = json_object_new_object();
		json_object_object_add(rc, key, json_object_get(v));
	}
	if (rc)
		json_object_object_add(conf, "runtimeConfig", rc);
}

static int64_t pint(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) :
						       0;
}

static json_object *port_mappings(json_object *pod)
{
	json_object *ctrs = rt_path(pod, "spec.containers"), *ports,
		    *out = json_object_new_array();

	for (size_t i = 0; ctrs && i < json_object_array_length(ctrs); i++) {
		ports = rt_arr(json_object_array_get_idx(ctrs, i), "ports");
		if (!ports)
			continue;
		for (size_t k = 0; k < json_object_array_length(ports); k++) {
			json_object *p = json_object_array_get_idx(ports, k), *m;
			const char *proto = rt_str(p, "protocol") ?: "TCP";
			const char *host_ip = rt_str(p, "hostIP");
			char lower[8];
			size_t j;

			if (pint(p, "hostPort") <= 0)
				continue;
			for (j = 0; proto[j] && j < sizeof(lower) - 1; j++)
				lower[j] = (char)(proto[j] | 0x20);
			lower[j] = 0;
			m = json_object_new_object();
			json_object_object_add(m, "hostPort",
					       json_object_new_int64(pint(p, "hostPort")));
			json_object_object_add(
				m, "containerPort",
				json_object_new_int64(pint(p, "containerPort")));
			json_object_object_add(m, "protocol",
					       json_object_new_string(lower));
			if (host_ip && *host_ip)
				json_object_object_add(m, "hostIP",
						       json_object_new_string(host_ip));
			json_object_array_add(out, m);
		}
	}
	return out;
}

/* kubernetes.io/{ingress,egress}-bandwidth -> bits/s; 0 absent, -1 bad */
static int64_t bandwidth(json_object *annots, const char *key)
{
	const char *s = rt_str(annots, key);
	int64_t milli;

	if (!s)
		return 0;
	if (berth_quantity_milli(s, &milli) || milli < 1000)
		return -1;
	return milli / 1000;
}

json_object *berth_cni_runtime_config(json_object *pod, char *err,
				      size_t errlen)
{
	static const char *const keys[] = { "kubernetes.io/ingress-bandwidth",
					     "kubernetes.io/egress-bandwidth" };
	json_object *annots = rt_path(pod, "metadata.annotations"),
		    *rc = json_object_new_object(), *pm = port_mappings(pod),
		    *bw = NULL;
	int64_t rate[2];

	for (int i = 0; i < 2; i++) {
		rate[i] = bandwidth(annots, keys[i]);
		if (rate[i] < 0) {
			snprintf(err, errlen, "annotation %s: %s is not a bandwidth",
				 keys[i], rt_str(annots, keys[i]));
			json_object_put(pm);
			json_object_put(rc);
			return NULL;
		}
	}
	if (json_object_array_length(pm))
		json_object_object_add(rc, "portMappings", pm);
	else
		json_object_put(pm);
	for (int i = 0; i < 2; i++) {
		if (!rate[i])
			continue;
		if (!bw)
			bw = json_object_new_object();
		/* rate in bits/s; the burst unbounded, as the kubelet sets it */
		json_object_object_add(bw, i ? "egressRate" : "ingressRate",
				       json_object_new_int64(rate[i]));
		json_object_object_add(bw, i ? "egressBurst" : "ingressBurst",
				       json_object_new_int64(INT32_MAX));
	}
	if (bw)
		json_object_object_add(rc, "bandwidth", bw);
	return rc;
}

static int run_chain(const char *bin_dir, const char *conf_dir,
		     const struct berth_cni_pod *pod, bool add,
		     json_object **result, char *err, size_t errlen)
{
	json_object *list, *plugins, *prev = NULL, *v;
	char e_cmd[32], e_id[320], e_ns[4200], e_if[64], e_args[1024],
		e_path[4200];
	char e_syspath[1024];
	/* PATH too: chained plugins run tools (portmap: iptables) */
	char *envp[] = { e_cmd, e_id, e_ns, e_if, e_args, e_path, e_syspath, NULL };
	const char *name = "", *version = "1.0.0";
	int n, ret = 0;

	err[0] = 0;
	list = load_conflist(conf_dir, err, errlen);
	if (!list)
		return -ENOENT;
	if (json_object_object_get_ex(list, "name", &v))
		name = json_object_get_string(v);
	if (json_object_object_get_ex(list, "cniVersion", &v))
		version = json_object_get_string(v);
	json_object_object_get_ex(list, "plugins", &plugins);
	n = json_object_is_type(plugins, json_type_array) ?
		    (int)json_object_array_length(plugins) :
		    0;
	if (!n) {
		snprintf(err, errlen, "CNI config in %s has no plugins", conf_dir);
		json_object_put(list);
		return -EINVAL;
	}
	snprintf(e_cmd, sizeof(e_cmd), "CNI_COMMAND=%s", add ? "ADD" : "DEL");
	snprintf(e_id, sizeof(e_id), "CNI_CONTAINERID=%s", pod->container_id);
	snprintf(e_ns, sizeof(e_ns), "CNI_NETNS=%s", pod->netns ? pod->netns : "");
	snprintf(e_if, sizeof(e_if), "CNI_IFNAME=%s",
		 pod->ifname ? pod->ifname : "eth0");
	snprintf(e_args, sizeof(e_args),
		 "CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=%s;K8S_POD_NAME=%s;K8S_POD_INFRA_CONTAINER_ID=%s;K8S_POD_UID=%s",
		 pod->ns, pod->name, pod->container_id, pod->uid);
	snprintf(e_syspath, sizeof(e_syspath), "PATH=%s",
		 getenv("PATH") ?: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	snprintf(e_path, sizeof(e_path), "CNI_PATH=%s", bin_dir);
	for (char *c = e_path; *c; c++)
		if (*c == ',')
			*c = ':';
	for (int k = 0; k < n; k++) {
		int i = add ? k : n - 1 - k;
		json_object *p = json_object_array_get_idx(plugins, i), *conf = NULL;
		const char *type;
		char *out = NULL;
		int rc;

		if (!json_object_object_get_ex(p, "type", &v)) {
			snprintf(err, errlen, "plugin %d has no type", i);
			ret = -EINVAL;
			break;
		}
		type = json_object_get_string(v);
		if (json_object_deep_copy(p, &conf, NULL)) {
			snprintf(err, errlen, "copy plugin %s config: out of memory", type);
			ret = -ENOMEM;
			break;
		}
		json_object_object_add(conf, "name", json_object_new_string(name));
		json_object_object_add(conf, "cniVersion",
				       json_object_new_string(version));
		if (prev)
			json_object_object_add(conf, "prevResult",
					       json_object_get(prev));
		add_runtime_config(conf, pod->runtime_config);
		rc = exec_plugin(bin_dir, type, envp,
				 json_object_to_json_string_ext(
					 conf, JSON_C_TO_STRING_PLAIN),
				 &out);
		json_object_put(conf);
		if (rc < 0) {
			snprintf(err, errlen, "plugin %s: %s in %s", type,
				 strerror(-rc), bin_dir);
			ret = rc;
		} else if (rc) {
			plugin_error(type, rc, out, err, errlen);
			ret = -EIO;
		} else if (add) {
			json_object *res = json_tokener_parse(out ? out : "");

			if (!res) {
				snprintf(err, errlen, "plugin %s: result is not JSON",
					 type);
				ret = -EINVAL;
			} else {
				json_object_put(prev);
				prev = res;
			}
		}
		free(out);
		/* DEL goes on through errors: remove as much as possible */
		if (ret && add)
			break;
	}
	json_object_put(list);
	if (!ret && result)
		*result = prev;
	else
		json_object_put(prev);
	return ret;
}

int berth_cni_add(const char *bin_dir, const char *conf_dir,
		  const struct berth_cni_pod *pod, char *ip, size_t iplen,
		  char *err, size_t errlen)
{
	json_object *res = NULL, *ips, *addr;
	int ret;

	ip[0] = 0;
	ret = run_chain(bin_dir, conf_dir, pod, true, &res, err, errlen);
	if (ret)
		return ret;
	if (json_object_object_get_ex(res, "ips", &ips) &&
	    json_object_array_length(ips) > 0 &&
	    json_object_object_get_ex(json_object_array_get_idx(ips, 0),
				      "address", &addr)) {
		snprintf(ip, iplen, "%s", json_object_get_string(addr));
		ip[strcspn(ip, "/")] = 0;
	}
	json_object_put(res);
	if (!ip[0]) {
		snprintf(err, errlen, "CNI result has no IP address");
		return -EINVAL;
	}
	return 0;
}

int berth_cni_del(const char *bin_dir, const char *conf_dir,
		  const struct berth_cni_pod *pod, char *err, size_t errlen)
{
	return run_chain(bin_dir, conf_dir, pod, false, NULL, err, errlen);
}
