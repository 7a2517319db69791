/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The agent's container runtime: pod sandboxes (namespaces), OCI bundles
 * built from the Pod spec and the image config, containers run with runc
 * under a small shim that keeps their logs and exit codes, volumes, and the
 * CRI-format pod logs.
 *
 * Layout under ROOT (the runtime's root, e.g. <agent root>/runtime):
 *   netns/<pod uid>                          the pod's network namespace (CNI_NETNS)
 *   pods/<uid>/ns/{ipc,uts}                  the pod's shared IPC and UTS namespaces
 *   pods/<uid>/{hosts,hostname,resolv.conf}  generated per pod
 *   pods/<uid>/pod.json                      the pod's identity (uid, ns, name)
 *   pods/<uid>/volumes/<type>/<name>/        volumes (volumes.c)
 *   pods/<uid>/containers/<name>/<attempt>/  the bundle: config.json, rootfs,
 *                                            upper, work (the overlay, mounted by
 *                                            the shim in a mount namespace of its
 *                                            own), shim.json (pid, start), exit.json
 *   runc/                                    runc --root
 * Logs: LOG_DIR/<ns>_<pod>_<uid>/<container>/<attempt>.log (CRI format).
 *
 * A container's id is "<pod uid>_<container name>_<attempt>". Containers
 * outlive the agent: the shim (berth-shim next to the agent's binary, else
 * `berth-agent shim` via /proc/self/exe, or opts.shim) holds their stdio and writes exit.json; a new runtime handle
 * finds them with berth_container_list and never restarts them.
 *
 * Functions that take err/errlen fill err with a message fit for a
 * container's status (reason CreateContainerConfigError, RunContainerError,
 * ...), e.g. `configmap "app" not found`. All return 0 or -errno.
 * Thread-safe: distinct containers may be driven from several threads.
 */
#ifndef BERTH_AGENT_RUNTIME_H
#define BERTH_AGENT_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "image.h" /* struct berth_image_config */

struct json_object;
struct berth_runtime;

#define BERTH_CONTAINER_ID_MAX 192
#define BERTH_LOG_MAX_LINE (16 * 1024) /* longer lines are split into P records */

struct berth_runtime_opts {
	const char *root; /* required */
	const char *runc; /* NULL: "runc" from PATH */
	const char *log_dir; /* NULL: /var/log/pods */
	/* cgroupsPath prefix of containers (cgroup v1: one dir in every
	 * hierarchy); NULL: "/berth". Containers go to <parent>/pod<uid>/<id>. */
	const char *cgroup_parent;
	/* the binary run as `<shim> shim ...`; NULL: berth-shim next to
	 * /proc/self/exe if it is there, else /proc/self/exe */
	const char *shim;
	uint64_t log_max_size; /* bytes before rotation; 0: 10 MiB */
	unsigned int log_max_files; /* rotated files kept; 0: 5 */
	/* DNS for the pods' resolv.conf: NULL/empty: copy the host's */
	const char *const *dns_servers; /* NULL-terminated */
	const char *const *dns_searches; /* NULL-terminated */
};

int berth_runtime_open(const struct berth_runtime_opts *opts, struct berth_runtime **out);
void berth_runtime_close(struct berth_runtime *rt);
const char *berth_runtime_root(const struct berth_runtime *rt);

/*
 * Objects the kubelet gives the runtime (for env valueFrom and volumes). get
 * returns a new reference (the runtime puts it) to the ConfigMap or Secret
 * (kind "ConfigMap" / "Secret") ns/name, or NULL with errno set (ENOENT: not
 * found). token: a service account token for pod's projected
 * serviceAccountToken source (audience may be NULL), malloc'd, or NULL with
 * errno and a message in err. Either may be NULL (then such references fail
 * with -ENOENT / -ENOTSUP).
 */
struct berth_objects {
	struct json_object *(*get)(void *arg, const char *kind, const char *ns,
				   const char *name);
	char *(*token)(void *arg, struct json_object *pod, const char *audience,
		       long expiration_s, char *err, size_t errlen);
	void *arg;
};

/* ---- sandbox (runc.c) ---- */

/*
 * The pod's sandbox: unless spec.hostNetwork, a new network namespace bound
 * at ROOT/netns/<uid> (hand netns_path to CNI as CNI_NETNS); IPC and UTS
 * namespaces (hostname = pod name, or spec.hostname) shared by its
 * containers; /etc/hosts, /etc/hostname, /etc/resolv.conf for it.
 * Idempotent: an existing sandbox is kept (agent restart).
 */
struct berth_sandbox {
	char uid[64];
	char netns_path[4096]; /* empty for hostNetwork pods */
	bool host_network;
};
int berth_sandbox_create(struct berth_runtime *rt, struct json_object *pod,
			 struct berth_sandbox *out, char *err, size_t errlen);
/* Rewrite the pod's /etc/hosts with its IP (after CNI ADD). */
int berth_sandbox_set_ip(struct berth_runtime *rt, struct json_object *pod, const char *ip);
/* Unmount and remove the namespaces and the pod's dir (volumes included:
 * call after every container is removed and after CNI DEL). Logs are kept. */
int berth_sandbox_destroy(struct berth_runtime *rt, const char *uid);
/* Pod uids that have a sandbox (for clean-up of pods deleted while the
 * agent was down); free with berth_strv_free. */
int berth_sandbox_list(struct berth_runtime *rt, char ***uids);
void berth_strv_free(char **v);

/* ---- volumes (volumes.c) ---- */

/* A resolved mount of a container: host path → container path. */
struct berth_mount {
	char *source; /* host path (file or dir) */
	char *destination; /* absolute path in the container */
	bool readonly;
};
void berth_mounts_free(struct berth_mount *m, size_t n);

/*
 * Make (or refresh) the pod's volumes under ROOT/pods/<uid>/volumes:
 * emptyDir (medium Memory: tmpfs, sizeLimit), hostPath (type checked),
 * configMap, secret, downwardAPI and projected (files written atomically
 * through a ..data symlink swap, so calling it again updates them in place
 * for running containers). Volumes of other types: -ENOTSUP with a message.
 */
int berth_volumes_setup(struct berth_runtime *rt, struct json_object *pod,
			const struct berth_objects *objs, char *err, size_t errlen);
/* The mounts of one container (its volumeMounts, subPath included); setup
 * must have run. Free with berth_mounts_free. */
int berth_volumes_mounts(struct berth_runtime *rt, struct json_object *pod,
			 struct json_object *container, struct berth_mount **out,
			 size_t *n, char *err, size_t errlen);
/* Unmount tmpfs emptyDirs and remove the pod's volumes dir. */
int berth_volumes_teardown(struct berth_runtime *rt, const char *uid);

/* ---- containers (oci.c builds config.json, runc.c runs it) ---- */

struct berth_container_spec {
	struct json_object *pod; /* the Pod (metadata, spec, status) */
	struct json_object *container; /* an entry of spec.containers/initContainers */
	const struct berth_image_config *image; /* may be NULL */
	/* the image's root filesystem; NULL: <bundle>/rootfs (as made by
	 * berth_image_rootfs(imgs, id, berth_container_dir(...))) */
	const char *rootfs;
	/* non-NULL: rootfs is an empty dir the shim mounts this overlay on
	 * (mount(2) data, from berth_image_rootfs_deferred) in its own mount
	 * namespace before runc runs */
	const char *rootfs_overlay;
	const struct berth_mount *mounts; /* from berth_volumes_mounts */
	size_t nmounts;
	unsigned int attempt; /* restartCount: <attempt>.log, the id */
	const struct berth_objects *objs; /* env configMapKeyRef/secretKeyRef */
	const char *pod_ip; /* fieldRef status.podIP(s); NULL: from pod status */
	const char *host_ip; /* fieldRef status.hostIP */
	const char *node_name; /* fieldRef spec.nodeName; NULL: from the pod */
	/* "K=V" put before the container's own env (e.g. service variables) */
	const char *const *extra_env; /* NULL-terminated, may be NULL */
};

/* The bundle dir ROOT/pods/<uid>/containers/<name>/<attempt> into buf
 * (PATH_MAX); -ENAMETOOLONG. Does not create it. */
int berth_container_dir(struct berth_runtime *rt, const char *uid, const char *name,
			unsigned int attempt, char *buf, size_t len);
/* "<uid>_<name>_<attempt>" into buf (BERTH_CONTAINER_ID_MAX). */
int berth_container_id(const char *uid, const char *name, unsigned int attempt,
		       char *buf, size_t len);

/*
 * Build the bundle and start the container (runc create + start under its
 * shim); returns when the process runs (or failed to start: err says why,
 * e.g. `exec: "nosuch": executable file not found`). id gets the id
 * (BERTH_CONTAINER_ID_MAX).
 */
int berth_container_create_start(struct berth_runtime *rt,
				 const struct berth_container_spec *spec, char *id,
				 char *err, size_t errlen);

enum berth_container_status {
	BERTH_CONTAINER_UNKNOWN, /* no such container, or its state is unreadable */
	BERTH_CONTAINER_CREATED,
	BERTH_CONTAINER_RUNNING,
	BERTH_CONTAINER_EXITED,
};

struct berth_container_state {
	char id[BERTH_CONTAINER_ID_MAX];
	char pod_uid[64];
	char name[256]; /* container name */
	unsigned int attempt;
	enum berth_container_status status;
	pid_t pid; /* running: host pid of its init */
	int exit_code; /* exited: code, or 128 + signal */
	int signal; /* exited by this signal (0: exited normally) */
	bool oom_killed; /* the memory cgroup's OOM killer ran */
	char reason[32]; /* exited: "Completed", "Error", "OOMKilled" */
	char message[256]; /* exited: tail of /dev/termination-log, if any */
	struct timespec created_at, started_at, finished_at;
	char log_path[4096];
};

const char *berth_container_status_name(enum berth_container_status s);
/* -ENOENT if there is no such container. */
int berth_container_state(struct berth_runtime *rt, const char *id,
			  struct berth_container_state *out);
/* Every container that has a bundle (running or exited, not removed);
 * free with free(). */
int berth_container_list(struct berth_runtime *rt, struct berth_container_state **out,
			 size_t *n);

/* SIGTERM (or the image's StopSignal... always TERM here), SIGKILL after
 * grace_s; returns when it has exited (or -ETIMEDOUT 10 s after KILL). */
int berth_container_stop(struct berth_runtime *rt, const char *id, unsigned int grace_s);
/* Send one signal (e.g. SIGKILL) without waiting. */
int berth_container_kill(struct berth_runtime *rt, const char *id, int sig);
/* runc delete -f, release the bundle (not the rootfs: call
 * berth_image_rootfs_release on the dir first) and remove it. The log stays. */
int berth_container_remove(struct berth_runtime *rt, const char *id);

/*
 * Run argv in the running container (probes, hooks) with `runc exec`,
 * killed after timeout_ms (then -ETIMEDOUT). exit_code gets its status
 * (128 + signal if killed by one); out (may be NULL) gets up to outlen-1
 * bytes of its stdout+stderr, NUL-ended.
 */
int berth_container_exec(struct berth_runtime *rt, const char *id,
			 const char *const *argv, unsigned int timeout_ms, int *exit_code,
			 char *out, size_t outlen);

/* ---- logs (podlogs.c) ---- */

/* LOG_DIR/<ns>_<name>_<uid>/<container>/<attempt>.log into buf. */
int berth_log_path(struct berth_runtime *rt, const char *ns, const char *pod_name,
		   const char *uid, const char *container, unsigned int attempt,
		   char *buf, size_t len);

struct berth_log_read_opts {
	long tail; /* last N lines; <0: all */
	bool follow; /* wait for more until alive() says the container is done */
	bool timestamps; /* prefix each line with its RFC3339Nano time */
	int64_t since_ns; /* only lines at or after this (ns since epoch); 0: all */
	int64_t limit_bytes; /* stop after this many bytes; 0: no limit */
	/* follow: called every ~200 ms without new data; 0 ends the read */
	int (*alive)(void *arg);
};

/*
 * Read the CRI log file path (and, for tail, its rotated predecessors) as
 * kubectl logs shows it: text lines (P records joined), optionally with
 * timestamps. out(arg, buf, n) gets the text; a non-zero return from it
 * stops the read (returned). -ENOENT if there is no log.
 */
int berth_log_read(const char *path, const struct berth_log_read_opts *opts,
		   int (*out)(void *arg, const char *buf, size_t n), void *arg);

/* A CRI log writer (used by the shim; exposed for tests). */
struct berth_log_writer;
int berth_log_writer_open(const char *path, uint64_t max_size, unsigned int max_files,
			  struct berth_log_writer **out);
/* Append stream data ("stdout"/"stderr"): complete lines become F records,
 * lines over BERTH_LOG_MAX_LINE are split into P records; a trailing
 * partial line is held until its newline or berth_log_writer_flush. */
int berth_log_writer_write(struct berth_log_writer *w, int stream, const char *buf, size_t n);
int berth_log_writer_flush(struct berth_log_writer *w);
void berth_log_writer_close(struct berth_log_writer *w);
#define BERTH_LOG_STDOUT 1
#define BERTH_LOG_STDERR 2

/* ---- sub-commands of berth-agent (main.c dispatches) ---- */

/* `berth-agent shim ...`: started by the runtime, never by hand. */
int berth_shim_main(int argc, char **argv);
/* `berth-agent runtime ...`: run/state/stop/exec/logs/list by hand (and
 * for the node tests). */
int berth_runtime_cli(int argc, char **argv);

/* ---- lower level, for tests ---- */

/* Does the image's user (a name, or a group by name) have to be looked up in
 * the rootfs' /etc/passwd or /etc/group (so the rootfs must be there to read
 * when berth_oci_config runs)? */
bool berth_oci_user_needs_rootfs(const struct berth_image_config *img);
/* The OCI config.json for spec (bundle-relative or absolute rootfs, log and
 * cgroup fields filled from rt); a new json-c object. rt may be NULL (unit
 * tests: cgroupsPath under /berth, no pod files). */
int berth_oci_config(struct berth_runtime *rt, const struct berth_container_spec *spec,
		     struct json_object **out, char *err, size_t errlen);

#endif
