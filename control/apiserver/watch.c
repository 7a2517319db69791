// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Watch streams. Events come from the store's watch thread, are filtered
 * (selectors; an object that stops or starts matching is DELETED or ADDED,
 * as kube-apiserver does), serialised there and queued; the connection's
 * thread blocks on an eventfd and the client socket, so a client that
 * goes away ends the stream within a second.
 */
#define _GNU_SOURCE /* POLLRDHUP */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <berth/log.h>

#include "../store/store.h"
#include "jsonutil.h"
#include "rest.h"
#include "selector.h"
#include "status.h"
#include "table.h"
#include "watch.h"

struct qitem {
	struct qitem *next;
	size_t len;
	char data[];
};

struct wstream {
	struct berth_api *api;
	const struct berth_resource *res;
	struct berth_selector *ls, *fs;
	bool table, bookmarks, initial_end;
	char include[16];
	int conn_fd, efd;
	bool conn_poll;
	time_t deadline, next_bookmark;
	pthread_mutex_t lock;
	struct qitem *head, *tail;
	size_t qlen;
	bool ended;
	int64_t last_rev;
	struct berth_watch *w;
	struct qitem *cur;
	size_t cur_off;
};

static struct qitem *make_line(struct wstream *ws, const char *type,
			       struct json_object *obj)
{
	struct json_object *ev = json_object_new_object(), *t;
	struct qitem *q;
	const char *js;
	size_t len;

	berth_json_set_str(ev, "type", type);
	if (ws->table && strcmp(type, "ERROR") && strcmp(type, "BOOKMARK")) {
		t = berth_table_new(ws->res);
		berth_table_add(t, ws->res, obj, ws->include);
		json_object_object_add(
			berth_json_obj(t, "metadata"), "resourceVersion",
			berth_json_copy(berth_json_path(
				obj, "metadata.resourceVersion")));
		json_object_object_add(ev, "object", t);
	} else {
		json_object_object_add(ev, "object", json_object_get(obj));
	}
	js = berth_json_str(ev, &len);
	q = malloc(sizeof(*q) + len + 1);
	if (q) {
		q->next = NULL;
		memcpy(q->data, js, len);
		q->data[len] = '\n';
		q->len = len + 1;
	}
	json_object_put(ev);
	return q;
}

static void enqueue(struct wstream *ws, struct qitem *q, int64_t rev)
{
	uint64_t one = 1;

	pthread_mutex_lock(&ws->lock);
	if (rev > ws->last_rev)
		ws->last_rev = rev;
	if (q && ws->qlen >= BERTH_WATCH_QUEUE_MAX) {
		ws->ended = true;
		free(q);
		q = NULL;
	}
	if (q) {
		if (ws->tail)
			ws->tail->next = q;
		else
			ws->head = q;
		ws->tail = q;
		ws->qlen++;
	}
	pthread_mutex_unlock(&ws->lock);
	if (write(ws->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		pr_debug("watch: eventfd: %s", strerror(errno));
}

static void enqueue_error(struct wstream *ws, int code, const char *reason,
			  const char *msg)
{
	struct json_object *st = berth_status_new(code, reason, "%s", msg);

	enqueue(ws, make_line(ws, "ERROR", st), 0);
	json_object_put(st);
	pthread_mutex_lock(&ws->lock);
	ws->ended = true;
	pthread_mutex_unlock(&ws->lock);
}

static struct json_object *parse_kv(const struct berth_kv *kv, int64_t rev)
{
	if (!kv->value || !kv->value_len)
		return NULL;
	return berth_obj_from_store(kv->value, kv->value_len, rev);
}

static void on_event(void *ctx, const struct berth_event *ev, int err)
{
	struct wstream *ws = ctx;
	struct json_object *obj = NULL, *old = NULL;
	const char *type = NULL;
	int64_t rev;
	bool now_match, was_match;

	if (!ev) {
		enqueue_error(ws, err == -ESTALE ? 410 : 500,
			      err == -ESTALE ? "Expired" : NULL,
			      err == -ESTALE ? "too old resource version" :
					       "watch ended by the store");
		return;
	}
	rev = ev->kv.mod_revision;
	if (ev->type == BERTH_EVENT_DELETE) {
		obj = parse_kv(&ev->kv, rev);
		if (!obj && ev->has_prev)
			obj = parse_kv(&ev->prev, rev);
		if (obj && berth_rest_match(ws->ls, ws->fs, obj))
			type = "DELETED";
	} else {
		obj = parse_kv(&ev->kv, rev);
		if (ev->has_prev && ev->kv.create_revision != rev)
			old = parse_kv(&ev->prev, rev);
		now_match = obj && berth_rest_match(ws->ls, ws->fs, obj);
		was_match = old && berth_rest_match(ws->ls, ws->fs, old);
		if (now_match)
			type = ev->kv.create_revision == rev ? "ADDED" :
			       (old && !was_match)	     ? "ADDED" :
							       "MODIFIED";
		else if (was_match)
			type = "DELETED";
	}
	enqueue(ws, type && obj ? make_line(ws, type, obj) : NULL, rev);
	json_object_put(obj);
	json_object_put(old);
}

static struct qitem *bookmark(struct wstream *ws, int64_t rev, bool end)
{
	struct json_object *o = json_object_new_object(), *m;
	struct qitem *q;
	char av[96], buf[24];

	berth_resource_api_version(ws->res, av, sizeof(av));
	berth_json_set_str(o, "kind", ws->res->kind);
	berth_json_set_str(o, "apiVersion", av);
	m = berth_json_obj(o, "metadata");
	snprintf(buf, sizeof(buf), "%lld", (long long)rev);
	berth_json_set_str(m, "resourceVersion", buf);
	if (end)
		berth_json_set_str(berth_json_obj(m, "annotations"),
				   "k8s.io/initial-events-end", "true");
	q = make_line(ws, "BOOKMARK", o);
	json_object_put(o);
	return q;
}

/* The client closed its side (or the socket failed)? */
static bool client_gone(struct wstream *ws, short revents)
{
	char c;
	ssize_t n;

	if (revents & (POLLHUP | POLLERR | POLLRDHUP))
		return true;
	if (!(revents & POLLIN))
		return false;
	n = recv(ws->conn_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		return true;
	ws->conn_poll = false; /* data we will not read: stop polling it */
	return false;
}

static ssize_t ws_read(void *ctx, char *buf, size_t max)
{
	struct wstream *ws = ctx;
	struct pollfd pfd[2];
	uint64_t cnt;
	bool ended;
	time_t now;
	int64_t rev;
	size_t n;

	for (;;) {
		if (ws->cur) {
			n = ws->cur->len - ws->cur_off;
			if (n > max)
				n = max;
			memcpy(buf, ws->cur->data + ws->cur_off, n);
			ws->cur_off += n;
			if (ws->cur_off == ws->cur->len) {
				free(ws->cur);
				ws->cur = NULL;
				ws->cur_off = 0;
			}
			return (ssize_t)n;
		}
		pthread_mutex_lock(&ws->lock);
		ws->cur = ws->head;
		if (ws->head) {
			ws->head = ws->head->next;
			if (!ws->head)
				ws->tail = NULL;
			ws->qlen--;
		}
		ended = ws->ended;
		rev = ws->last_rev;
		pthread_mutex_unlock(&ws->lock);
		if (ws->cur)
			continue;
		if (ended || atomic_load(&ws->api->stopping))
			return -1;
		now = time(NULL);
		if (ws->deadline && now >= ws->deadline)
			return -1;
		if (ws->bookmarks && now >= ws->next_bookmark) {
			ws->next_bookmark = now + BERTH_WATCH_BOOKMARK_SECS;
			ws->cur = bookmark(ws, rev, false);
			continue;
		}
		pfd[0] = (struct pollfd){ .fd = ws->efd, .events = POLLIN };
		pfd[1] =
			(struct pollfd){ .fd = ws->conn_poll ? ws->conn_fd : -1,
					 .events = POLLIN | POLLRDHUP };
		if (poll(pfd, 2, 1000) < 0 && errno != EINTR)
			return -1;
		if (pfd[1].fd >= 0 && client_gone(ws, pfd[1].revents))
			return -1;
		if (pfd[0].revents & POLLIN)
			(void)!read(ws->efd, &cnt, sizeof(cnt));
	}
}

static void ws_free(void *ctx)
{
	struct wstream *ws = ctx;
	struct qitem *q;

	if (ws->w)
		berth_watch_cancel(ws->w);
	while ((q = ws->head)) {
		ws->head = q->next;
		free(q);
	}
	free(ws->cur);
	berth_selector_free(ws->ls);
	berth_selector_free(ws->fs);
	if (ws->efd >= 0)
		close(ws->efd);
	pthread_mutex_destroy(&ws->lock);
	free(ws);
}

/* ADDED for what exists now; *rev: the revision of that state. */
static int initial_events(struct berth_call *c, struct wstream *ws,
			  const char *prefix, int64_t *rev)
{
	struct berth_kv_list l = { 0 };
	char *start = NULL;
	int64_t at = 0;
	bool more = true;
	size_t i;
	int err = 0;

	while (more) {
		err = berth_store_list(c->api->store, prefix, start, 500, at,
				       &l, rev, &more);
		if (err)
			break;
		at = *rev;
		for (i = 0; i < l.n; i++) {
			struct json_object *o = berth_obj_from_store(
				l.items[i].value, l.items[i].value_len,
				l.items[i].mod_revision);

			if (o && berth_rest_match(ws->ls, ws->fs, o))
				enqueue(ws, make_line(ws, "ADDED", o), 0);
			json_object_put(o);
		}
		free(start);
		start = l.n ? strdup(l.items[l.n - 1].key) : NULL;
		berth_kv_list_free(&l);
		if (!start)
			break;
	}
	free(start);
	return err;
}

void berth_watch_serve(struct berth_call *c)
{
	const char *rv_s = berth_http_query(c->req, "resourceVersion");
	const char *to = berth_http_query(c->req, "timeoutSeconds");
	const char *bm = berth_http_query(c->req, "allowWatchBookmarks");
	const char *sie = berth_http_query(c->req, "sendInitialEvents");
	const char *inc = berth_http_query(c->req, "includeObject");
	struct wstream *ws;
	char prefix[512], msg[160];
	int64_t from = 0, cur = 0;
	bool initial;
	int err;

	ws = calloc(1, sizeof(*ws));
	if (!ws) {
		berth_resp_error(c->resp, 500, NULL, "out of memory");
		return;
	}
	pthread_mutex_init(&ws->lock, NULL);
	ws->api = c->api;
	ws->res = c->res;
	ws->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ws->conn_fd = berth_http_fd(c->req);
	ws->conn_poll = ws->conn_fd >= 0;
	ws->table = berth_accept_table(c->req);
	snprintf(ws->include, sizeof(ws->include), "%s",
		 inc && *inc ? inc : "Metadata");
	ws->bookmarks = bm && (!strcmp(bm, "true") || !strcmp(bm, "1"));
	ws->next_bookmark = time(NULL) + BERTH_WATCH_BOOKMARK_SECS;
	if (to && *to && strtoll(to, NULL, 10) > 0)
		ws->deadline = time(NULL) + strtoll(to, NULL, 10);
	if (ws->efd < 0 || berth_rest_selectors(c, &ws->ls, &ws->fs)) {
		if (ws->efd < 0)
			berth_resp_error(c->resp, 500, NULL, "eventfd: %s",
					 strerror(errno));
		ws_free(ws);
		return;
	}
	berth_resource_key(c->res, c->ns, NULL, prefix, sizeof(prefix));
	initial = !rv_s || !*rv_s || !strcmp(rv_s, "0") ||
		  (sie && !strcmp(sie, "true"));
	if (initial) {
		err = initial_events(c, ws, prefix, &from);
		if (err) {
			berth_rest_store_error(c, err, "");
			ws_free(ws);
			return;
		}
		if (sie && !strcmp(sie, "true") && ws->bookmarks)
			enqueue(ws, bookmark(ws, from, true), from);
	} else {
		char *end;

		from = strtoll(rv_s, &end, 10);
		if (*end || from < 0) {
			berth_resp_error(c->resp, 400, NULL,
					 "invalid resource version \"%s\"",
					 rv_s);
			ws_free(ws);
			return;
		}
		if (!berth_store_revision(c->api->store, &cur) && from > cur)
			from = cur;
	}
	pthread_mutex_lock(&ws->lock);
	if (from > ws->last_rev)
		ws->last_rev = from;
	pthread_mutex_unlock(&ws->lock);
	err = berth_store_watch(c->api->store, prefix, from, on_event, ws,
				&ws->w);
	if (err == -ESTALE) {
		berth_store_revision(c->api->store, &cur);
		snprintf(msg, sizeof(msg),
			 "too old resource version: %lld (%lld)",
			 (long long)from, (long long)cur);
		enqueue_error(ws, 410, "Expired", msg);
	} else if (err) {
		berth_rest_store_error(c, err, "");
		ws_free(ws);
		return;
	}
	c->resp->code = 200;
	c->resp->content_type = "application/json";
	c->resp->stream = ws_read;
	c->resp->stream_ctx = ws;
	c->resp->stream_free = ws_free;
}
