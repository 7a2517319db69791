// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Kubernetes API client: kubeconfig parsing, JSON requests and list+watch
 * loops. One curl easy handle per call keeps the client thread-safe.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <yaml.h>

#include <berth/base64.h>
#include <berth/fsutil.h>
#include <berth/kube.h>
#include <berth/log.h>

#define WATCH_TIMEOUT 290 /* s, asked of the server per watch request */
#define WATCH_STACK (256 * 1024) /* curl + json-c need little */
#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 30000

#define KUBE_POOL 8 /* idle handles kept, each with its open connection */
/* a connection is not reused once this old: a renewed client certificate
 * (files rewritten in place) is what new connections present */
#define KUBE_CONN_MAX_AGE_S 60

struct berth_kube {
	struct berth_kube_config cfg;
	char *auth; /* "Authorization: Bearer ..." */
	char *accept; /* "Accept: ..." header, NULL: application/json */
	long timeout;
	/*
	 * Requests reuse idle handles and so their connections: a new
	 * connection per request cost a TCP and TLS handshake (and a server
	 * thread) for every status update. No TLS session resumption: a
	 * resumed session would carry the old certificate's identity.
	 */
	pthread_mutex_t pool_lock;
	CURL *pool[KUBE_POOL];
	int npool;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init(void)
{
	curl_global_init(CURL_GLOBAL_ALL);
}

/* ---- YAML to json-c ---- */

static json_object *scalar_to_json(yaml_node_t *n)
{
	const char *s = (const char *)n->data.scalar.value;
	size_t len = n->data.scalar.length;
	char *end;

	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return json_object_new_string_len(s, len);
	if (!strcmp(s, "true") || !strcmp(s, "True"))
		return json_object_new_boolean(1);
	if (!strcmp(s, "false") || !strcmp(s, "False"))
		return json_object_new_boolean(0);
	if (!strcmp(s, "null") || !strcmp(s, "~") || !len)
		return NULL;
	if ((s[0] >= '0' && s[0] <= '9') || s[0] == '-' || s[0] == '+') {
		long long v;
		double d;

		errno = 0;
		v = strtoll(s, &end, 10);
		if (!errno && !*end)
			return json_object_new_int64(v);
		d = strtod(s, &end);
		if (!*end)
			return json_object_new_double(d);
	}
	return json_object_new_string_len(s, len);
}

static json_object *node_to_json(yaml_document_t *doc, yaml_node_t *n,
				 int depth)
{
	json_object *o;

	if (!n || depth > 64)
		return NULL;
	switch (n->type) {
	case YAML_SCALAR_NODE:
		return scalar_to_json(n);
	case YAML_SEQUENCE_NODE:
		o = json_object_new_array();
		for (yaml_node_item_t *i = n->data.sequence.items.start;
		     i < n->data.sequence.items.top; i++)
			json_object_array_add(
				o, node_to_json(doc, yaml_document_get_node(doc, *i),
						depth + 1));
		return o;
	case YAML_MAPPING_NODE:
		o = json_object_new_object();
		for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
		     p < n->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node(doc, p->key);

			if (!k || k->type != YAML_SCALAR_NODE)
				continue;
			json_object_object_add(
				o, (const char *)k->data.scalar.value,
				node_to_json(doc,
					     yaml_document_get_node(doc, p->value),
					     depth + 1));
		}
		return o;
	default:
		return NULL;
	}
}

int berth_kube_yaml_parse(const char *buf, size_t len, json_object **out,
			  char *err, size_t errlen)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root;
	int ret = 0;

	*out = NULL;
	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, &doc)) {
		snprintf(err, errlen, "line %zu: %s",
			 parser.problem_mark.line + 1,
			 parser.problem ? parser.problem : "malformed YAML");
		yaml_parser_delete(&parser);
		return -EINVAL;
	}
	root = yaml_document_get_root_node(&doc);
	if (!root) {
		snprintf(err, errlen, "empty document");
		ret = -ENODATA;
	} else {
		*out = node_to_json(&doc, root, 0);
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return ret;
}

/* ---- kubeconfig ---- */

static char *read_file(const char *path, size_t *len)
{
	char *buf;
	int err = berth_read_file(path, &buf, len);

	if (err) {
		errno = -err;
		return NULL;
	}
	return buf;
}

static json_object *named(json_object *list, const char *name,
			  const char *field)
{
	size_t n = json_object_is_type(list, json_type_array) ?
			   json_object_array_length(list) :
			   0;

	for (size_t i = 0; i < n; i++) {
		json_object *it = json_object_array_get_idx(list, i), *v;

		if (json_object_object_get_ex(it, "name", &v) &&
		    !strcmp(json_object_get_string(v), name) &&
		    json_object_object_get_ex(it, field, &v))
			return v;
	}
	return NULL;
}

static const char *str_field(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* a path relative to the kubeconfig's directory */
static char *rel_path(const char *dir, const char *p)
{
	char *out;

	if (!p)
		return NULL;
	if (p[0] == '/' || !dir)
		return strdup(p);
	if (asprintf(&out, "%s/%s", dir, p) < 0)
		return NULL;
	return out;
}

/*
 * A *-data field (base64 PEM) as a file only this process sees: a memfd,
 * named by its /proc/self/fd path for libcurl. Nothing on disk, so key
 * material never lands in /tmp and a killed process leaves nothing behind.
 */
static int data_file(struct berth_kube_config *cfg, int slot,
		     const char *b64, char **path)
{
	size_t n;
	char *data = berth_base64_decode(b64, false, &n);
	int fd, ret = 0;

	if (!data)
		return -EINVAL;
	fd = memfd_create("berth-kubeconfig-data", MFD_CLOEXEC);
	if (fd < 0) {
		free(data);
		return -errno;
	}
	if (write(fd, data, n) != (ssize_t)n)
		ret = -EIO;
	free(data);
	cfg->data_fds[slot] = fd + 1;
	if (asprintf(path, "/proc/self/fd/%d", fd) < 0) {
		*path = NULL;
		return -ENOMEM;
	}
	return ret;
}

int berth_kube_config_load(const char *path, const char *context,
			   struct berth_kube_config *cfg, char *err,
			   size_t errlen)
{
	json_object *root = NULL, *ctx, *cluster, *user = NULL;
	const char *cur, *cname, *uname, *v;
	char dir[PATH_MAX], *slash, *buf;
	size_t len;
	int ret;

	memset(cfg, 0, sizeof(*cfg));
	if (!strncmp(path, "http://", 7) || !strncmp(path, "https://", 8)) {
		cfg->server = strdup(path);
		len = strlen(cfg->server);
		while (len && cfg->server[len - 1] == '/')
			cfg->server[--len] = 0;
		cfg->namespace = strdup("default");
		return 0;
	}
	buf = read_file(path, &len);
	if (!buf) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return ret;
	}
	ret = berth_kube_yaml_parse(buf, len, &root, err, errlen);
	free(buf);
	if (ret)
		return ret;
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash)
		*slash = 0;
	else
		snprintf(dir, sizeof(dir), ".");

	cur = context ? context : str_field(root, "current-context");
	if (!cur) {
		snprintf(err, errlen, "%s: no current-context", path);
		ret = -EINVAL;
		goto out;
	}
	ctx = named(json_object_object_get(root, "contexts"), cur, "context");
	if (!ctx) {
		snprintf(err, errlen, "%s: context '%s' not found", path, cur);
		ret = -ENOENT;
		goto out;
	}
	cname = str_field(ctx, "cluster");
	uname = str_field(ctx, "user");
	cluster = cname ? named(json_object_object_get(root, "clusters"),
				cname, "cluster") :
			  NULL;
	if (!cluster || !str_field(cluster, "server")) {
		snprintf(err, errlen, "%s: cluster '%s' not found or has no server",
			 path, cname ? cname : "");
		ret = -ENOENT;
		goto out;
	}
	if (uname)
		user = named(json_object_object_get(root, "users"), uname,
			     "user");
	cfg->server = strdup(str_field(cluster, "server"));
	len = strlen(cfg->server);
	while (len && cfg->server[len - 1] == '/')
		cfg->server[--len] = 0;
	v = str_field(ctx, "namespace");
	cfg->namespace = strdup(v ? v : "default");
	{
		json_object *b;

		if (json_object_object_get_ex(cluster,
					      "insecure-skip-tls-verify", &b))
			cfg->insecure = json_object_get_boolean(b);
	}
	if ((v = str_field(cluster, "certificate-authority-data")))
		ret = data_file(cfg, 0, v, &cfg->ca_file);
	else
		cfg->ca_file =
			rel_path(dir, str_field(cluster, "certificate-authority"));
	if (!ret && user) {
		if ((v = str_field(user, "client-certificate-data")))
			ret = data_file(cfg, 1, v, &cfg->cert_file);
		else
			cfg->cert_file = rel_path(
				dir, str_field(user, "client-certificate"));
		if (!ret && (v = str_field(user, "client-key-data")))
			ret = data_file(cfg, 2, v, &cfg->key_file);
		else if (!ret)
			cfg->key_file =
				rel_path(dir, str_field(user, "client-key"));
		if ((v = str_field(user, "token"))) {
			cfg->token = strdup(v);
		} else if ((v = str_field(user, "tokenFile"))) {
			char *p = rel_path(dir, v), *t;

			t = p ? read_file(p, &len) : NULL;
			free(p);
			if (t) {
				while (len && (t[len - 1] == '\n' ||
					       t[len - 1] == '\r'))
					t[--len] = 0;
				cfg->token = t;
			}
		}
	}
	if (ret)
		snprintf(err, errlen, "%s: bad base64 in a *-data field", path);
out:
	json_object_put(root);
	if (ret)
		berth_kube_config_free(cfg);
	return ret;
}

void berth_kube_config_free(struct berth_kube_config *cfg)
{
	for (int i = 0; i < 3; i++)
		if (cfg->data_fds[i])
			close(cfg->data_fds[i] - 1);
	free(cfg->server);
	free(cfg->token);
	free(cfg->ca_file);
	free(cfg->cert_file);
	free(cfg->key_file);
	free(cfg->namespace);
	memset(cfg, 0, sizeof(*cfg));
}

/* ---- client ---- */

int berth_kube_new(struct berth_kube **out, struct berth_kube_config *cfg)
{
	struct berth_kube *k;

	pthread_once(&curl_once, curl_init);
	if (!cfg->server)
		return -EINVAL;
	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->cfg = *cfg;
	memset(cfg, 0, sizeof(*cfg));
	k->timeout = 30;
	pthread_mutex_init(&k->pool_lock, NULL);
	if (k->cfg.token &&
	    asprintf(&k->auth, "Authorization: Bearer %s", k->cfg.token) < 0) {
		berth_kube_free(k);
		return -ENOMEM;
	}
	*out = k;
	return 0;
}

int berth_kube_open(struct berth_kube **out, const char *kubeconfig)
{
	struct berth_kube_config cfg;
	char err[512] = "";
	int ret;

	ret = berth_kube_config_load(kubeconfig, NULL, &cfg, err, sizeof(err));
	if (ret) {
		pr_err("read kubeconfig: %s", err);
		return ret;
	}
	ret = berth_kube_new(out, &cfg);
	if (ret) {
		pr_err("new API client for %s: %s", kubeconfig, strerror(-ret));
		berth_kube_config_free(&cfg);
	}
	return ret;
}

void berth_kube_free(struct berth_kube *k)
{
	if (!k)
		return;
	for (int i = 0; i < k->npool; i++)
		curl_easy_cleanup(k->pool[i]);
	pthread_mutex_destroy(&k->pool_lock);
	berth_kube_config_free(&k->cfg);
	free(k->auth);
	free(k->accept);
	free(k);
}

const char *berth_kube_server(const struct berth_kube *k)
{
	return k->cfg.server;
}

void berth_kube_set_timeout(struct berth_kube *k, long seconds)
{
	k->timeout = seconds;
}

int berth_kube_set_accept(struct berth_kube *k, const char *media)
{
	char *h = NULL;

	if (media && asprintf(&h, "Accept: %s", media) < 0)
		return -ENOMEM;
	free(k->accept);
	k->accept = h;
	return 0;
}

struct membuf {
	char *data;
	size_t len, cap;
};

static size_t mem_write(char *p, size_t sz, size_t nm, void *arg)
{
	struct membuf *b = arg;
	size_t n = sz * nm;

	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->len + n + 1) * 2;
		char *nd = realloc(b->data, cap);

		if (!nd)
			return 0;
		b->data = nd;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = 0;
	return n;
}

/* an idle handle (its connection still open), reset, or a new one */
static CURL *easy_get(struct berth_kube *k)
{
	CURL *c = NULL;

	pthread_mutex_lock(&k->pool_lock);
	if (k->npool)
		c = k->pool[--k->npool];
	pthread_mutex_unlock(&k->pool_lock);
	if (c)
		curl_easy_reset(c); /* keeps its connections */
	else
		c = curl_easy_init();
	if (c)
		curl_easy_setopt(c, CURLOPT_MAXLIFETIME_CONN,
				 (long)KUBE_CONN_MAX_AGE_S);
	return c;
}

static void easy_put(struct berth_kube *k, CURL *c)
{
	pthread_mutex_lock(&k->pool_lock);
	if (k->npool < KUBE_POOL) {
		k->pool[k->npool++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&k->pool_lock);
	if (c)
		curl_easy_cleanup(c);
}

static CURL *easy(struct berth_kube *k, const char *path,
		  struct curl_slist **hdrs, const char *content_type)
{
	CURL *c = easy_get(k);
	char *url;

	if (!c)
		return NULL;
	if (asprintf(&url, "%s%s", k->cfg.server, path) < 0) {
		easy_put(k, c);
		return NULL;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	free(url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	*hdrs = curl_slist_append(NULL, k->accept ?: "Accept: application/json");
	if (k->auth)
		*hdrs = curl_slist_append(*hdrs, k->auth);
	if (content_type) {
		char h[128];

		snprintf(h, sizeof(h), "Content-Type: %s", content_type);
		*hdrs = curl_slist_append(*hdrs, h);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, *hdrs);
	if (k->cfg.ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, k->cfg.ca_file);
	if (k->cfg.cert_file)
		curl_easy_setopt(c, CURLOPT_SSLCERT, k->cfg.cert_file);
	if (k->cfg.key_file)
		curl_easy_setopt(c, CURLOPT_SSLKEY, k->cfg.key_file);
	if (k->cfg.insecure) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	return c;
}

static int curl_errno(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_RESOLVE_HOST:
		return -EHOSTUNREACH;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_ABORTED_BY_CALLBACK:
	case CURLE_WRITE_ERROR:
		return -ECANCELED;
	default:
		return -EIO;
	}
}

int berth_kube_request(struct berth_kube *k, const char *method,
		       const char *path, const char *content_type,
		       const char *body, json_object **out)
{
	struct curl_slist *hdrs = NULL;
	struct membuf b = { 0 };
	CURLcode rc;
	long status = 0;
	CURL *c;

	if (out)
		*out = NULL;
	c = easy(k, path, &hdrs, body ? content_type : NULL);
	if (!c)
		return -ENOMEM;
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	curl_easy_setopt(c, CURLOPT_TIMEOUT, k->timeout);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, mem_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	/* one that failed may hold a broken connection: not reused */
	if (rc == CURLE_OK)
		easy_put(k, c);
	else
		curl_easy_cleanup(c);
	curl_slist_free_all(hdrs);
	if (rc != CURLE_OK) {
		pr_debug("%s %s%s: %s", method, k->cfg.server, path,
			 curl_easy_strerror(rc));
		free(b.data);
		return curl_errno(rc);
	}
	if (out && b.len)
		*out = json_tokener_parse(b.data);
	free(b.data);
	return (int)status;
}

static int request_json(struct berth_kube *k, const char *method,
			const char *path, const char *ctype,
			json_object *body, json_object **out)
{
	const char *s = body ? json_object_to_json_string_ext(
				       body, JSON_C_TO_STRING_PLAIN) :
			       NULL;

	return berth_kube_request(k, method, path, ctype, s, out);
}

int berth_kube_get(struct berth_kube *k, const char *path, json_object **out)
{
	return berth_kube_request(k, "GET", path, NULL, NULL, out);
}

int berth_kube_post(struct berth_kube *k, const char *path,
		    json_object *body, json_object **out)
{
	return request_json(k, "POST", path, "application/json", body, out);
}

int berth_kube_put(struct berth_kube *k, const char *path, json_object *body,
		   json_object **out)
{
	return request_json(k, "PUT", path, "application/json", body, out);
}

int berth_kube_patch(struct berth_kube *k, const char *path,
		     enum berth_kube_patch type, json_object *body,
		     json_object **out)
{
	static const char *const types[] = {
		[BERTH_KUBE_PATCH_MERGE] = "application/merge-patch+json",
		[BERTH_KUBE_PATCH_STRATEGIC] =
			"application/strategic-merge-patch+json",
		[BERTH_KUBE_PATCH_JSON] = "application/json-patch+json",
	};

	if ((unsigned int)type > BERTH_KUBE_PATCH_JSON)
		return -EINVAL;
	return request_json(k, "PATCH", path, types[type], body, out);
}

int berth_kube_delete(struct berth_kube *k, const char *path,
		      json_object *body, json_object **out)
{
	return request_json(k, "DELETE", path, "application/json", body, out);
}

const char *berth_kube_status_message(json_object *obj, int status,
				      char *buf, size_t len)
{
	const char *m = obj ? str_field(obj, "message") : NULL;

	if (m)
		snprintf(buf, len, "%s", m);
	else if (status < 0)
		snprintf(buf, len, "%s", strerror(-status));
	else
		snprintf(buf, len, "HTTP %d", status);
	return buf;
}

/* ---- streaming ---- */

struct stream {
	berth_kube_data_cb cb;
	void *arg;
	const volatile int *stop;
};

static size_t stream_write(char *p, size_t sz, size_t nm, void *arg)
{
	struct stream *s = arg;

	if (s->cb(p, sz * nm, s->arg))
		return 0;
	return sz * nm;
}

static int stream_progress(void *arg, curl_off_t a, curl_off_t b,
			   curl_off_t c, curl_off_t d)
{
	struct stream *s = arg;

	(void)a, (void)b, (void)c, (void)d;
	return s->stop && *s->stop;
}

static int do_stream(struct berth_kube *k, const char *path,
		     berth_kube_data_cb cb, void *arg, long timeout,
		     const volatile int *stop)
{
	struct stream s = { .cb = cb, .arg = arg, .stop = stop };
	struct curl_slist *hdrs = NULL;
	long status = 0;
	CURLcode rc;
	CURL *c;

	c = easy(k, path, &hdrs, NULL);
	if (!c)
		return -ENOMEM;
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, stream_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout);
	if (stop) {
		curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, stream_progress);
		curl_easy_setopt(c, CURLOPT_XFERINFODATA, &s);
	}
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	curl_slist_free_all(hdrs);
	if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && status))
		return curl_errno(rc);
	return (int)status;
}

int berth_kube_stream(struct berth_kube *k, const char *path,
		      berth_kube_data_cb cb, void *arg)
{
	return do_stream(k, path, cb, arg, 0, NULL);
}

/* ---- list + watch ---- */

struct berth_kube_watch {
	struct berth_kube *k;
	char *collection, *query;
	berth_kube_watch_cb cb;
	void *arg;
	pthread_t thread;
	volatile int stop;
	unsigned int lists;
	char rv[64];
	bool gone; /* 410: relist */
	unsigned long events; /* in the current stream */
	int status; /* the stream's first answer */
	struct membuf line;
	pthread_mutex_t lock;
	pthread_cond_t cond;
};

static void set_rv(struct berth_kube_watch *w, json_object *obj)
{
	json_object *md;
	const char *rv;

	if (json_object_object_get_ex(obj, "metadata", &md) &&
	    (rv = str_field(md, "resourceVersion")))
		snprintf(w->rv, sizeof(w->rv), "%s", rv);
}

static int watch_list(struct berth_kube_watch *w)
{
	json_object *list = NULL, *items;
	char *path;
	int st;

	if (asprintf(&path, "%s%s%s", w->collection, w->query ? "?" : "",
		     w->query ? w->query : "") < 0)
		return -ENOMEM;
	st = berth_kube_get(w->k, path, &list);
	free(path);
	if (st != 200) {
		char m[256];

		pr_warn("list %s: %s", w->collection,
			berth_kube_status_message(list, st, m, sizeof(m)));
		json_object_put(list);
		return st < 0 ? st : -EIO;
	}
	w->cb(BERTH_KUBE_LIST_BEGIN, NULL, w->arg);
	if (json_object_object_get_ex(list, "items", &items)) {
		size_t n = json_object_array_length(items);

		for (size_t i = 0; i < n && !w->stop; i++)
			w->cb(BERTH_KUBE_ADDED,
			      json_object_array_get_idx(items, i), w->arg);
	}
	w->cb(BERTH_KUBE_LIST_END, NULL, w->arg);
	set_rv(w, list);
	json_object_put(list);
	pthread_mutex_lock(&w->lock);
	w->lists++;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	return 0;
}

static void watch_event(struct berth_kube_watch *w, const char *line)
{
	json_object *ev = json_tokener_parse(line), *obj;
	const char *type;

	if (!ev) {
		pr_warn("watch %s: malformed event", w->collection);
		return;
	}
	type = str_field(ev, "type");
	if (!type || !json_object_object_get_ex(ev, "object", &obj))
		goto out;
	if (!strcmp(type, "ERROR")) {
		json_object *code;

		if (json_object_object_get_ex(obj, "code", &code) &&
		    json_object_get_int(code) == 410)
			w->gone = true;
		else
			pr_warn("watch %s: %s", w->collection,
				str_field(obj, "message") ?: "error event");
		goto out;
	}
	set_rv(w, obj);
	w->events++;
	if (!strcmp(type, "ADDED"))
		w->cb(BERTH_KUBE_ADDED, obj, w->arg);
	else if (!strcmp(type, "MODIFIED"))
		w->cb(BERTH_KUBE_MODIFIED, obj, w->arg);
	else if (!strcmp(type, "DELETED"))
		w->cb(BERTH_KUBE_DELETED, obj, w->arg);
	/* BOOKMARK: only the resourceVersion */
out:
	json_object_put(ev);
}

static int watch_data(const char *data, size_t len, void *arg)
{
	struct berth_kube_watch *w = arg;
	char *nl;

	if (w->stop || w->gone)
		return 1;
	if (!mem_write((char *)data, 1, len, &w->line))
		return 1;
	while ((nl = memchr(w->line.data, '\n', w->line.len))) {
		size_t n = nl - w->line.data + 1;

		*nl = 0;
		if (nl > w->line.data)
			watch_event(w, w->line.data);
		memmove(w->line.data, w->line.data + n, w->line.len - n + 1);
		w->line.len -= n;
		if (w->gone)
			return 1;
	}
	return w->stop;
}

static void backoff_sleep(struct berth_kube_watch *w, int *ms)
{
	for (int t = 0; t < *ms && !w->stop; t += 100)
		usleep(100 * 1000);
	*ms = *ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : *ms * 2;
}

static void *watch_main(void *arg)
{
	struct berth_kube_watch *w = arg;
	int backoff = BACKOFF_MIN_MS;
	bool listed = false;

	while (!w->stop) {
		char *path;
		time_t t0;
		int st;

		if (!listed) {
			if (watch_list(w)) {
				backoff_sleep(w, &backoff);
				continue;
			}
			listed = true;
		}
		if (asprintf(&path,
			     "%s?watch=1&allowWatchBookmarks=true&timeoutSeconds=%d&resourceVersion=%s%s%s",
			     w->collection, WATCH_TIMEOUT, w->rv,
			     w->query ? "&" : "", w->query ? w->query : "") < 0)
			break;
		w->gone = false;
		w->line.len = 0;
		w->events = 0;
		t0 = time(NULL);
		st = do_stream(w->k, path, watch_data, w, WATCH_TIMEOUT + 30,
			       &w->stop);
		free(path);
		if (w->stop)
			break;
		if (w->gone || st == 410) {
			pr_info("watch %s: resourceVersion %s is gone, relisting",
				w->collection, w->rv);
			listed = false;
			continue;
		}
		if (st == 200) {
			/* a server that ends every watch at once: not a busy loop */
			if (!w->events && time(NULL) - t0 < 1)
				backoff_sleep(w, &backoff);
			else
				backoff = BACKOFF_MIN_MS;
			continue;
		}
		if (st < 0)
			pr_warn("watch %s: %s, retrying", w->collection,
				strerror(-st));
		else
			pr_warn("watch %s: HTTP %d, relisting", w->collection,
				st);
		if (st > 0)
			listed = false; /* 4xx/5xx: start over */
		backoff_sleep(w, &backoff);
	}
	return NULL;
}

int berth_kube_watch_start(struct berth_kube_watch **out,
			   struct berth_kube *k, const char *collection,
			   const char *query, berth_kube_watch_cb cb,
			   void *arg)
{
	struct berth_kube_watch *w = calloc(1, sizeof(*w));
	pthread_attr_t attr;
	int ret;

	if (!w)
		return -ENOMEM;
	w->k = k;
	w->cb = cb;
	w->arg = arg;
	w->collection = strdup(collection);
	w->query = query && *query ? strdup(query) : NULL;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, WATCH_STACK);
	ret = -pthread_create(&w->thread, &attr, watch_main, w);
	pthread_attr_destroy(&attr);
	if (ret) {
		free(w->collection);
		free(w->query);
		free(w);
		return ret;
	}
	*out = w;
	return 0;
}

void berth_kube_watch_stop(struct berth_kube_watch *w)
{
	if (!w)
		return;
	w->stop = 1;
	pthread_join(w->thread, NULL);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	free(w->line.data);
	free(w->collection);
	free(w->query);
	free(w);
}

unsigned int berth_kube_watch_lists(struct berth_kube_watch *w)
{
	unsigned int n;

	pthread_mutex_lock(&w->lock);
	n = w->lists;
	pthread_mutex_unlock(&w->lock);
	return n;
}

/* ---- small helpers ---- */

int berth_kube_escape(const char *s, char *buf, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *s; s++) {
		unsigned char c = *s;
		bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9') || strchr("-._~", c);

		if (o + (plain ? 1 : 3) >= len)
			return -ENAMETOOLONG;
		if (plain) {
			buf[o++] = c;
		} else {
			buf[o++] = '%';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 15];
		}
	}
	if (o >= len)
		return -ENAMETOOLONG;
	buf[o] = 0;
	return 0;
}

void berth_kube_micro_time(char *buf, size_t len)
{
	struct timeval tv;
	struct tm tm;
	char s[32];

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%06ldZ", s, (long)tv.tv_usec);
}

void berth_kube_time(char buf[32], long t)
{
	time_t tt = t ? t : time(NULL);
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int berth_kube_parse_time(const char *s, long *t)
{
	struct tm tm = { 0 };
	const char *p;
	long off = 0;

	if (!s)
		return -EINVAL;
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return -EINVAL;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	if (*p == '+' || *p == '-') {
		int h, m;

		if (sscanf(p + 1, "%2d:%2d", &h, &m) != 2)
			return -EINVAL;
		off = (h * 3600 + m * 60) * (*p == '-' ? -1 : 1);
	} else if (*p != 'Z' || p[1]) {
		return -EINVAL;
	}
	*t = (long)timegm(&tm) - off;
	return 0;
}

static void add_str(json_object *o, const char *key, const char *v)
{
	if (v)
		json_object_object_add(o, key, json_object_new_string(v));
}

json_object *berth_kube_event_json(const struct berth_kevent *e)
{
	json_object *o = json_object_new_object();
	json_object *meta = json_object_new_object();
	json_object *inv = json_object_new_object();
	json_object *src = json_object_new_object();
	char first[32], last[32];

	berth_kube_time(first, e->first);
	berth_kube_time(last, e->last);
	add_str(meta, "name", e->name);
	add_str(meta, "namespace", e->ns);
	add_str(inv, "apiVersion", "v1");
	add_str(inv, "kind", e->kind);
	add_str(inv, "namespace", e->obj_ns);
	add_str(inv, "name", e->obj_name);
	if (e->uid && *e->uid)
		add_str(inv, "uid", e->uid);
	add_str(src, "component", e->component);
	add_str(src, "host", e->host);
	add_str(o, "apiVersion", "v1");
	add_str(o, "kind", "Event");
	json_object_object_add(o, "metadata", meta);
	json_object_object_add(o, "involvedObject", inv);
	add_str(o, "reason", e->reason);
	add_str(o, "message", e->message);
	add_str(o, "type", e->type);
	json_object_object_add(o, "count", json_object_new_int64(e->count));
	add_str(o, "firstTimestamp", first);
	add_str(o, "lastTimestamp", last);
	json_object_object_add(o, "source", src);
	add_str(o, "reportingComponent", e->component);
	add_str(o, "reportingInstance", e->host);
	return o;
}
