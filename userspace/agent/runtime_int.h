/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Internals shared by the runtime's files (oci.c, runc.c, volumes.c, podlogs.c). */
#ifndef BERTH_AGENT_RUNTIME_INT_H
#define BERTH_AGENT_RUNTIME_INT_H

#include <stdarg.h>
#include <stdint.h>

#include <json-c/json.h>

#include <berth/quantity.h>

#include <berth/fsutil.h>

#include "runtime.h"

struct berth_runtime {
	char *root;
	char *runc;
	char *log_dir;
	char *cgroup_parent;
	char *shim;
	uint64_t log_max_size;
	unsigned int log_max_files;
	char **dns_servers;
	char **dns_searches;
};

/* err (may be NULL) gets the formatted message; returns ret (a -errno). */
int rt_err(char *err, size_t errlen, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* json-c path helpers: NULL when absent or of another type */
struct json_object *rt_obj(struct json_object *o, const char *key);
const char *rt_str(struct json_object *o, const char *key);
struct json_object *rt_arr(struct json_object *o, const char *key);
/* a dotted path of objects: rt_path(pod, "metadata.name") */
struct json_object *rt_path(struct json_object *o, const char *path);
const char *rt_path_str(struct json_object *o, const char *path);

/* mkdir -p with mode for the dirs made */
/* write a file atomically (tmp + rename) */
int rt_write_file(const char *path, const void *data, size_t n, mode_t mode);
/* read a whole file (NUL-ended, malloc'd); NULL + errno */
char *rt_read_file(const char *path, size_t *n);
/* posix_spawnp argv (a vfork-like clone: cheap from a big, threaded
 * agent) with stdin from in (or /dev/null), stdout/stderr to out/errfd
 * (or inherited), keep (or -1) left open across the exec; signals
 * unblocked. 0 or -errno. */
int rt_spawn(pid_t *pid, char *const argv[], int in, int out, int errfd, int keep);
/* rm -rf that does not cross mount points (-EBUSY if one is in the way) */
int rt_remove_tree(const char *path);

/* $(VAR) expansion with Kubernetes' rules ($$ escapes, unknown stays);
 * lookup returns NULL for undefined names; malloc'd result. */
char *berth_expand(const char *in, const char *(*lookup)(void *arg, const char *name, size_t n),
		   void *arg);
/* resolve a fieldRef fieldPath of a pod ("metadata.labels['a']"...);
 * malloc'd value or NULL with -EINVAL in *ret */
char *berth_pod_field(struct json_object *pod, const char *path, const char *pod_ip,
		      const char *host_ip, const char *node_name, int *ret);
/* the pod dir ROOT/pods/<uid> */
int rt_pod_dir(struct berth_runtime *rt, const char *uid, char *buf, size_t len);
/* the cgroupsPath of a container */
int rt_cgroups_path(struct berth_runtime *rt, const char *uid, const char *id, char *buf,
		    size_t len);

#endif
