/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A small Kubernetes API client: kubeconfig, JSON requests and list+watch
 * loops over libcurl and json-c. Every call uses its own curl handle, so one
 * client may be shared by any number of threads.
 *
 * Users link -lcurl -ljson-c -lpthread (the agent does; libberth's other
 * users never pull kube.o in).
 */
#ifndef BERTH_KUBE_H
#define BERTH_KUBE_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

struct berth_kube_config {
	char *server; /* "http://127.0.0.1:6443", no trailing slash */
	char *token; /* bearer token or NULL */
	char *ca_file; /* PEM, for https */
	char *cert_file; /* client certificate, PEM */
	char *key_file; /* its key */
	bool insecure; /* insecure-skip-tls-verify */
	char *namespace; /* the context's namespace, "default" if unset */
	int data_fds[3]; /* memfds of the *-data fields, as fd + 1 (0: none); closed on free */
};

/*
 * Reads a kubeconfig (the current context, or @context if not NULL).
 * A plain URL ("http://host:port") is accepted in place of a path.
 * On error returns -errno with a message in @err.
 */
int berth_kube_config_load(const char *path, const char *context,
			   struct berth_kube_config *cfg, char *err,
			   size_t errlen);
void berth_kube_config_free(struct berth_kube_config *cfg);

struct berth_kube;

/* Takes over @cfg's contents (cfg is zeroed). */
int berth_kube_new(struct berth_kube **out, struct berth_kube_config *cfg);
/* config_load + new; logs what failed. */
int berth_kube_open(struct berth_kube **out, const char *kubeconfig);
void berth_kube_free(struct berth_kube *k);
const char *berth_kube_server(const struct berth_kube *k);
/* per-request timeout in seconds (default 30) */
void berth_kube_set_timeout(struct berth_kube *k, long seconds);
/* Accept media type of the requests that follow (NULL: application/json);
 * berthctl asks for server-side Tables with it. Not while other threads
 * use the client. */
int berth_kube_set_accept(struct berth_kube *k, const char *media);

enum berth_kube_patch {
	BERTH_KUBE_PATCH_MERGE, /* application/merge-patch+json */
	BERTH_KUBE_PATCH_STRATEGIC, /* application/strategic-merge-patch+json */
	BERTH_KUBE_PATCH_JSON, /* application/json-patch+json */
};

/*
 * The requests return the HTTP status (200, 404, ...) or -errno when no
 * answer came. @out (may be NULL) gets the parsed body, or NULL if it was
 * not JSON; the caller puts it. @path is the URL path and query
 * ("/api/v1/namespaces/default/pods?limit=5").
 */
int berth_kube_get(struct berth_kube *k, const char *path,
		   json_object **out);
int berth_kube_post(struct berth_kube *k, const char *path,
		    json_object *body, json_object **out);
int berth_kube_put(struct berth_kube *k, const char *path,
		   json_object *body, json_object **out);
int berth_kube_patch(struct berth_kube *k, const char *path,
		     enum berth_kube_patch type, json_object *body,
		     json_object **out);
/* @body: DeleteOptions or NULL */
int berth_kube_delete(struct berth_kube *k, const char *path,
		      json_object *body, json_object **out);
/* Any method with a raw body (NULL: none). */
int berth_kube_request(struct berth_kube *k, const char *method,
		       const char *path, const char *content_type,
		       const char *body, json_object **out);

/* A Status object's message, or "HTTP <status>" */
const char *berth_kube_status_message(json_object *obj, int status,
				      char *buf, size_t len);

/*
 * Streams a GET's body to @cb as it arrives (no timeout). @cb returns
 * nonzero to stop. Returns the HTTP status or -errno.
 */
typedef int (*berth_kube_data_cb)(const char *data, size_t len, void *arg);
int berth_kube_stream(struct berth_kube *k, const char *path,
		      berth_kube_data_cb cb, void *arg);

enum berth_kube_event {
	BERTH_KUBE_ADDED,
	BERTH_KUBE_MODIFIED,
	BERTH_KUBE_DELETED,
	/* a (re)list starts: ADDED for every item follows, then LIST_END;
	 * objects the consumer holds and the list did not name are gone */
	BERTH_KUBE_LIST_BEGIN,
	BERTH_KUBE_LIST_END,
};

/* @obj is borrowed (NULL for LIST_BEGIN/END); get it to keep it. */
typedef void (*berth_kube_watch_cb)(enum berth_kube_event ev,
				    json_object *obj, void *arg);

struct berth_kube_watch;

/*
 * List @collection ("/api/v1/pods") with @query (e.g.
 * "fieldSelector=spec.nodeName%3Dn1", may be NULL), then watch from the
 * list's resourceVersion, on a thread of its own. A broken stream resumes
 * from the last resourceVersion seen; 410 Gone relists; errors back off
 * from 0.5 s doubling to 30 s.
 */
int berth_kube_watch_start(struct berth_kube_watch **out,
			   struct berth_kube *k, const char *collection,
			   const char *query, berth_kube_watch_cb cb,
			   void *arg);
/* Stops and joins the thread; no callback runs after it returns. */
void berth_kube_watch_stop(struct berth_kube_watch *w);
/* Number of completed lists (tests wait for the first). */
unsigned int berth_kube_watch_lists(struct berth_kube_watch *w);

/*
 * YAML (or JSON) text to json-c: plain scalars that look like integers,
 * floats, true/false or null get those types; the first document only.
 */
int berth_kube_yaml_parse(const char *buf, size_t len, json_object **out,
			  char *err, size_t errlen);

/* Percent-encodes @s for a query value. */
int berth_kube_escape(const char *s, char *buf, size_t len);
/* RFC 3339 "2026-01-02T03:04:05Z" of @t (0: now) */
void berth_kube_time(char buf[32], long t);
/* What a core/v1 Event written by an agent says (berth_kube_event_json). */
struct berth_kevent {
	const char *name, *ns; /* the Event's own */
	const char *kind, *obj_ns, *obj_name, *uid; /* involvedObject */
	const char *reason, *message, *type; /* type: Normal|Warning */
	long count, first, last; /* times as time(2) */
	const char *component, *host; /* source / reporting* */
};
/* The Event object for @e (NULL fields are left out); the caller puts it. */
json_object *berth_kube_event_json(const struct berth_kevent *e);
/* Now as a MicroTime ("2026-01-02T03:04:05.123456Z"), as Leases carry it */
void berth_kube_micro_time(char *buf, size_t len);
/* Parses RFC 3339 (UTC or offset); -EINVAL if malformed */
int berth_kube_parse_time(const char *s, long *t);

#endif
