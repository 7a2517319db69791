/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* berthctl's commands and what they share (API client, discovery, output). */
#ifndef BERTH_CTL_H
#define BERTH_CTL_H

#include <stdbool.h>
#include <stdio.h>

#include <json-c/json.h>

#include <berth/kube.h>

/* exit codes a script can rely on */
#define CTL_OK 0
#define CTL_ERR 1 /* the command failed (server said no, not found...) */
#define CTL_USAGE 2 /* bad command line */

#define CTL_MAX_FILES 32

/* A command line of the workload commands: flags, then positional args. */
struct ctl {
	struct berth_kube *k;
	const char *kubeconfig, *context;
	char *ns; /* -n, else the context's namespace */
	bool ns_set; /* -n given */
	bool all_ns; /* -A */
	const char *output; /* -o: wide, json, yaml, name or NULL */
	const char *selector; /* -l */
	const char *files[CTL_MAX_FILES]; /* -f */
	int nfiles;
	const char *container; /* -c */
	bool follow; /* -f of logs */
	long tail; /* --tail, -1: all */
	bool previous;
	long replicas; /* --replicas, -1: unset */
	long timeout; /* --timeout seconds of rollout status */
	long to_revision; /* rollout undo --to-revision, 0: previous */
	bool no_headers;
	int argc; /* positional arguments after the command */
	char **argv;
};

/* One API resource from discovery. */
struct ctl_res {
	char group[64], version[32]; /* "" for core */
	char plural[64], singular[64], kind[64];
	char shorts[4][16];
	bool namespaced;
};

/* client.c */
int ctl_connect(struct ctl *c);
/* the API client, connected on first use (exits 1 if it cannot be) */
struct berth_kube *ctl_kube(struct ctl *c);
/* KIND as typed ("po", "deployments.apps", "Deployment") to a resource;
 * prints kubectl's error and returns -ENOENT if the server has none. */
int ctl_resolve(struct ctl *c, const char *name, struct ctl_res *r);
/* the same without the message */
int ctl_lookup(struct ctl *c, const char *name, struct ctl_res *r);
/* "KIND/NAME" or "KIND NAME" as the whole command line of @what;
 * CTL_USAGE or CTL_ERR (printed) if not */
int ctl_kind_name(struct ctl *c, const char *what, struct ctl_res *r,
		  const char **name);
/* apiVersion + kind of an object to its resource */
int ctl_resolve_kind(struct ctl *c, const char *api_version, const char *kind,
		     struct ctl_res *r);
/* "/api/v1/namespaces/NS/pods[/NAME][SUFFIX]"; ns NULL: all namespaces */
void ctl_path(char *buf, size_t len, const struct ctl_res *r, const char *ns,
	      const char *name, const char *suffix);
/* appends -l as labelSelector to @path's query; prints if too long */
int ctl_add_selector(const struct ctl *c, char *path, size_t len);
/* "deployment.apps" (kubectl's -o name and messages) */
void ctl_kind_group(char *buf, size_t len, const struct ctl_res *r);
/* The namespace a command acts in (-n or the context's). */
const char *ctl_ns(struct ctl *c);
/* Prints "Error from server (Reason): message" for a failed request. */
int ctl_server_error(json_object *st, int status);
/* "error: ..." on stderr, returns CTL_ERR */
int ctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *ctl_str(json_object *o, const char *path);
json_object *ctl_get(json_object *o, const char *path);
long long ctl_int(json_object *o, const char *path, long long def);
/* a GET that prints the server's error; returns the body or NULL */
json_object *ctl_fetch(struct ctl *c, const char *path);
/* seconds since an RFC 3339 time as kubectl prints ages ("5m", "2d3h") */
void ctl_age(const char *ts, char *buf, size_t len);
/* duration "30s", "5m", "1h", plain seconds; -1 if malformed */
long ctl_parse_duration(const char *s);

/* output.c */
void ctl_print_json(json_object *o, FILE *f);
int ctl_print_yaml(json_object *o, FILE *f);
/* an aligned table as kubectl's: 3 spaces between columns */
struct ctl_table;
struct ctl_table *ctl_table_new(int ncols);
void ctl_table_add(struct ctl_table *t, const char *const *cells);
/* the last column padded too (kubectl top's tables) */
void ctl_table_pad_last(struct ctl_table *t);
size_t ctl_table_rows(const struct ctl_table *t);
void ctl_table_print(struct ctl_table *t, FILE *f);
void ctl_table_free(struct ctl_table *t);

/* the commands */
int cmd_get(struct ctl *c);
int cmd_apply(struct ctl *c);
int cmd_delete(struct ctl *c);
int cmd_describe(struct ctl *c);
int cmd_logs(struct ctl *c);
int cmd_scale(struct ctl *c);
int cmd_rollout(struct ctl *c);
int cmd_top(struct ctl *c);
int cmd_monitor(int argc, char **argv);
int cmd_completion(int argc, char **argv);
int cmd_bpf(int argc, char **argv);
int cmd_probe(bool json);
/* berthctl bpf policy POD (policy.c): what a pod of node may do */
int cmd_policy(const char *node, const char *pod, bool json);

/* apply.c: the objects of -f FILE|DIR|- in order; -errno with a message */
int ctl_read_objects(const char *const *files, int n, json_object **list);

extern const char *const ctl_bpf_tables[];

#endif
