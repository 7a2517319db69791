// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Pulling images over the registry (distribution) API with libcurl: manifest
 * lists, bearer-token and basic auth, blobs verified against their digests
 * before anything is stored.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include <berth/log.h>

#include "image_priv.h"

#define MAX_MANIFEST (4 << 20) /* bytes; a manifest is a few KB */
#define CONNECT_TIMEOUT 10 /* s */
#define STALL_TIME 30 /* s under 1 byte/s aborts a transfer */
#define ACCEPT_MANIFESTS                                                                      \
	"Accept: application/vnd.oci.image.index.v1+json, "                                   \
	"application/vnd.docker.distribution.manifest.list.v2+json, "                        \
	"application/vnd.oci.image.manifest.v1+json, "                                        \
	"application/vnd.docker.distribution.manifest.v2+json"

struct reg {
	const struct berth_image_ref *ref;
	const struct berth_pull_opts *opts;
	struct berth_images *imgs;
	char base[300]; /* scheme://host[:port] */
	char auth[4096]; /* "Authorization: ..." once we have one */
	char *err;
	size_t errlen;
};

/* One response: the body in memory or into a file (with its digest). */
struct resp {
	long status;
	char content_type[128];
	char www_auth[1024];
	char *body;
	size_t len;
	FILE *file;
	struct berth_sha256 sha;
	uint64_t done, total;
	const char *what;
	const struct berth_pull_opts *opts;
	bool too_big;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t on_header(char *buf, size_t size, size_t n, void *arg)
{
	struct resp *r = arg;
	size_t len = size * n, vlen;
	const char *v;

	v = memchr(buf, ':', len);
	if (!v)
		return len;
	vlen = len - (v + 1 - buf);
	for (v++; vlen && (*v == ' ' || *v == '\t'); v++, vlen--)
		;
	while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n'))
		vlen--;
	if (!strncasecmp(buf, "content-type:", 13))
		snprintf(r->content_type, sizeof(r->content_type), "%.*s", (int)vlen, v);
	else if (!strncasecmp(buf, "www-authenticate:", 17))
		snprintf(r->www_auth, sizeof(r->www_auth), "%.*s", (int)vlen, v);
	return len;
}

static size_t on_body(char *buf, size_t size, size_t n, void *arg)
{
	struct resp *r = arg;
	size_t len = size * n;
	char *nb;

	if (r->file && r->status < 300) {
		if (fwrite(buf, 1, len, r->file) != len)
			return 0;
		berth_sha256_update(&r->sha, buf, len);
		r->done += len;
		if (r->opts && r->opts->progress)
			r->opts->progress(r->opts->progress_arg, r->what, r->done, r->total);
		return len;
	}
	if (r->len + len > MAX_MANIFEST) {
		r->too_big = true;
		return 0;
	}
	nb = realloc(r->body, r->len + len + 1);
	if (!nb)
		return 0;
	r->body = nb;
	memcpy(r->body + r->len, buf, len);
	r->len += len;
	r->body[r->len] = '\0';
	return len;
}

/* Each response's status line (redirects have their own): only a 2xx body goes to the file. */
static size_t on_header_status(char *buf, size_t size, size_t n, void *arg)
{
	struct resp *r = arg;
	int code;

	if (size * n > 9 && !strncmp(buf, "HTTP/", 5) && sscanf(buf, "HTTP/%*s %d", &code) == 1)
		r->status = code;
	return on_header(buf, size, n, arg);
}

static void resp_reset(struct resp *r)
{
	free(r->body);
	r->body = NULL;
	r->len = 0;
	r->status = 0;
	r->content_type[0] = r->www_auth[0] = '\0';
	r->too_big = false;
}

/* Copies the value of key="value" from a WWW-Authenticate challenge. */
static bool challenge_param(const char *h, const char *key, char *out, size_t len)
{
	size_t kl = strlen(key);
	const char *p = h, *e;

	while ((p = strcasestr(p, key))) {
		if ((p == h || p[-1] == ' ' || p[-1] == ',') && p[kl] == '=') {
			p += kl + 1;
			if (*p == '"') {
				e = strchr(++p, '"');
			} else {
				e = strchr(p, ',');
				if (!e)
					e = p + strlen(p);
			}
			if (!e || (size_t)(e - p) >= len)
				return false;
			memcpy(out, p, e - p);
			out[e - p] = '\0';
			return true;
		}
		p += kl;
	}
	return false;
}

/* The registry's JSON errors, or what else we know, as one line. */
static void http_error(struct reg *g, const struct resp *r, const char *url)
{
	struct json_object *o = NULL, *errs, *e, *v;
	char msg[512] = "";
	size_t i, off = 0;

	if (r->body)
		o = json_tokener_parse(r->body);
	if (o && json_object_object_get_ex(o, "errors", &errs) &&
	    json_object_is_type(errs, json_type_array)) {
		for (i = 0; i < json_object_array_length(errs) && off < sizeof(msg) - 1; i++) {
			const char *m = NULL, *c = NULL;

			e = json_object_array_get_idx(errs, i);
			if (json_object_object_get_ex(e, "message", &v))
				m = json_object_get_string(v);
			if (json_object_object_get_ex(e, "code", &v))
				c = json_object_get_string(v);
			off += snprintf(msg + off, sizeof(msg) - off, "%s%s", off ? "; " : "",
					m && *m ? m : c ? c : "error");
		}
	}
	json_object_put(o);
	if (msg[0])
		berth_image_seterr(g->err, g->errlen, "%s", msg);
	else if (r->status == 404)
		berth_image_seterr(g->err, g->errlen, "not found (HTTP 404 from %s)", url);
	else if (r->status == 401 || r->status == 403)
		berth_image_seterr(g->err, g->errlen, "unauthorized (HTTP %ld from %s)", r->status,
				   url);
	else
		berth_image_seterr(g->err, g->errlen, "HTTP %ld from %s", r->status, url);
}

static int perform(struct reg *g, const char *url, const char *accept, struct resp *r,
		   const char *user, const char *pass, bool use_auth)
{
	struct curl_slist *hdrs = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	CURL *c;
	CURLcode rc;
	int ret = 0;

	c = curl_easy_init();
	if (!c)
		return -ENOMEM;
	if (accept)
		hdrs = curl_slist_append(hdrs, accept);
	if (use_auth && g->auth[0])
		hdrs = curl_slist_append(hdrs, g->auth);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "berth-agent");
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)CONNECT_TIMEOUT);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)STALL_TIME);
	if (!r->file)
		curl_easy_setopt(c, CURLOPT_TIMEOUT,
				 g->opts->timeout_s > 0 ? g->opts->timeout_s : 300L);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header_status);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	if (user) {
		curl_easy_setopt(c, CURLOPT_USERNAME, user);
		curl_easy_setopt(c, CURLOPT_PASSWORD, pass ? pass : "");
	}
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && r->too_big)) {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
		if (r->too_big) {
			berth_image_seterr(g->err, g->errlen, "response from %s is too large", url);
			ret = -EFBIG;
		}
	} else {
		berth_image_seterr(g->err, g->errlen, "request to %s failed: %s", url,
				   errbuf[0] ? errbuf : curl_easy_strerror(rc));
		ret = rc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -EIO;
	}
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	return ret;
}

/* Answers a 401's challenge: a bearer token from the realm, or basic auth. */
static int authenticate(struct reg *g, const char *challenge)
{
	char realm[512], service[256] = "", scope[512], url[2048];
	struct json_object *o = NULL, *v;
	struct resp r = { 0 };
	const char *tok = NULL;
	char *es, *esc;
	int ret;

	if (!strncasecmp(challenge, "Basic", 5)) {
		if (!g->opts->username) {
			berth_image_seterr(g->err, g->errlen,
					   "registry %s requires credentials", g->ref->registry);
			return -EACCES;
		}
		/* curl builds the header: send the request again with user/password */
		snprintf(g->auth, sizeof(g->auth), "basic");
		return 0;
	}
	if (strncasecmp(challenge, "Bearer", 6) || !challenge_param(challenge, "realm", realm, sizeof(realm))) {
		berth_image_seterr(g->err, g->errlen, "unsupported auth challenge \"%s\"", challenge);
		return -EACCES;
	}
	challenge_param(challenge, "service", service, sizeof(service));
	if (!challenge_param(challenge, "scope", scope, sizeof(scope)))
		snprintf(scope, sizeof(scope), "repository:%s:pull", g->ref->repository);
	es = curl_easy_escape(NULL, service, 0);
	esc = curl_easy_escape(NULL, scope, 0);
	snprintf(url, sizeof(url), "%s%sservice=%s&scope=%s", realm, strchr(realm, '?') ? "&" : "?",
		 es ? es : "", esc ? esc : "");
	curl_free(es);
	curl_free(esc);
	ret = perform(g, url, NULL, &r, g->opts->username, g->opts->password, false);
	if (ret)
		goto out;
	if (r.status != 200) {
		http_error(g, &r, realm);
		ret = -EACCES;
		goto out;
	}
	o = r.body ? json_tokener_parse(r.body) : NULL;
	if (o && json_object_object_get_ex(o, "token", &v))
		tok = json_object_get_string(v);
	if ((!tok || !*tok) && o && json_object_object_get_ex(o, "access_token", &v))
		tok = json_object_get_string(v);
	if (!tok || !*tok || strlen(tok) > sizeof(g->auth) - 40) {
		berth_image_seterr(g->err, g->errlen, "token service %s answered no usable token", realm);
		ret = -EACCES;
		goto out;
	}
	snprintf(g->auth, sizeof(g->auth), "Authorization: Bearer %s", tok);
out:
	json_object_put(o);
	resp_reset(&r);
	return ret;
}

/* GET base + path, authenticating once on a 401. */
static int get(struct reg *g, const char *path, const char *accept, struct resp *r)
{
	char url[1024];
	bool basic;
	int ret, tries;

	snprintf(url, sizeof(url), "%s%s", g->base, path);
	for (tries = 0; tries < 2; tries++) {
		basic = !strcmp(g->auth, "basic");
		if (r->file) { /* a retried download starts over */
			if (fflush(r->file) || ftruncate(fileno(r->file), 0) || fseek(r->file, 0, SEEK_SET))
				return -errno;
			berth_sha256_init(&r->sha);
			r->done = 0;
		}
		resp_reset(r);
		ret = perform(g, url, accept, r, basic ? g->opts->username : NULL,
			      basic ? g->opts->password : NULL, !basic);
		if (ret)
			return ret;
		if (r->status != 401 || tries || !r->www_auth[0])
			break;
		ret = authenticate(g, r->www_auth);
		if (ret)
			return ret;
	}
	if (r->status < 200 || r->status >= 300) {
		http_error(g, r, url);
		return r->status == 404 ? -ENOENT : r->status == 401 || r->status == 403 ? -EACCES : -EIO;
	}
	return 0;
}

/* Fetches and stores the manifest at ref (a tag or digest); checks its digest
 * when ref is one. */
static int fetch_manifest(struct reg *g, const char *reference, struct berth_manifest *m,
			  char *digest_out)
{
	char path[700], why[256];
	struct resp r = { 0 };
	int ret;

	snprintf(path, sizeof(path), "/v2/%s/manifests/%s", g->ref->repository, reference);
	ret = get(g, path, ACCEPT_MANIFESTS, &r);
	if (ret)
		goto out;
	if (!r.body) {
		berth_image_seterr(g->err, g->errlen, "empty manifest for %s", reference);
		ret = -EINVAL;
		goto out;
	}
	ret = berth_images_blob_put(g->imgs, r.body, r.len,
				    berth_digest_valid(reference) ? reference : NULL, digest_out);
	if (ret == -EBADMSG) {
		berth_image_seterr(g->err, g->errlen,
				   "manifest %s does not match its digest: refusing it", reference);
		goto out;
	} else if (ret) {
		berth_image_seterr(g->err, g->errlen, "store manifest: %s", strerror(-ret));
		goto out;
	}
	ret = berth_manifest_parse(r.body, r.len, r.content_type, m, why, sizeof(why));
	if (ret)
		berth_image_seterr(g->err, g->errlen, "manifest %s: %s", reference, why);
out:
	resp_reset(&r);
	return ret;
}

static int fetch_blob(struct reg *g, const struct berth_descriptor *d, uint64_t *size)
{
	char path[700], tmp[PATH_MAX], got[BERTH_IMAGE_ID_LEN];
	struct resp r = { 0 };
	int fd, ret;

	berth_images_blob_path(g->imgs, d->digest, tmp);
	if (!access(tmp, F_OK)) {
		*size = d->size;
		return 0; /* content-addressed: verified when it was stored */
	}
	fd = berth_images_tmpfile(g->imgs, tmp);
	if (fd < 0) {
		berth_image_seterr(g->err, g->errlen, "create a temporary file: %s", strerror(-fd));
		return fd;
	}
	r.file = fdopen(fd, "w+");
	if (!r.file) {
		close(fd);
		unlink(tmp);
		return -ENOMEM;
	}
	berth_sha256_init(&r.sha);
	r.what = d->digest;
	r.total = d->size;
	r.opts = g->opts;
	snprintf(path, sizeof(path), "/v2/%s/blobs/%s", g->ref->repository, d->digest);
	ret = get(g, path, NULL, &r);
	if (fclose(r.file) && !ret) {
		ret = -errno;
		berth_image_seterr(g->err, g->errlen, "write blob %s: %s", d->digest, strerror(errno));
	}
	if (!ret) {
		berth_sha256_final_digest(&r.sha, got);
		if (strcmp(got, d->digest)) {
			berth_image_seterr(g->err, g->errlen,
					   "blob %s: digest mismatch: got %s (%llu bytes): refusing it",
					   d->digest, got, (unsigned long long)r.done);
			ret = -EBADMSG;
		} else if (d->size && r.done != d->size) {
			berth_image_seterr(g->err, g->errlen,
					   "blob %s: size %llu, manifest says %llu: refusing it",
					   d->digest, (unsigned long long)r.done,
					   (unsigned long long)d->size);
			ret = -EBADMSG;
		}
	}
	if (!ret) {
		ret = berth_images_blob_commit(g->imgs, tmp, d->digest);
		if (ret)
			berth_image_seterr(g->err, g->errlen, "store blob %s: %s", d->digest,
					   strerror(-ret));
	} else {
		unlink(tmp);
	}
	resp_reset(&r);
	*size = r.done;
	return ret;
}

static bool plain_http(const char *host, const struct berth_pull_opts *opts)
{
	static const char *const local[] = { "localhost", "127.0.0.1", "[::1]" };
	size_t i, n;

	for (i = 0; i < sizeof(local) / sizeof(local[0]); i++) {
		n = strlen(local[i]);
		if (!strncmp(host, local[i], n) && (!host[n] || host[n] == ':'))
			return true;
	}
	for (i = 0; opts->insecure_registries && opts->insecure_registries[i]; i++)
		if (!strcmp(host, opts->insecure_registries[i]))
			return true;
	return false;
}

int berth_registry_pull(struct berth_images *imgs, const struct berth_image_ref *ref,
			const char *ref_str, const struct berth_pull_opts *opts, char *id_out,
			char *err, size_t errlen)
{
	struct reg *g = calloc(1, sizeof(*g));
	struct berth_manifest m = { 0 }, top = { 0 };
	char digest[BERTH_IMAGE_ID_LEN], norm[1024];
	const char **layers = NULL, *refs[2] = { norm, NULL };
	uint64_t *sizes = NULL;
	const char *host;
	size_t i;
	int ret, pick;

	if (!g)
		return -ENOMEM;
	pthread_once(&curl_once, curl_init);
	g->ref = ref;
	g->opts = opts;
	g->imgs = imgs;
	g->err = err;
	g->errlen = errlen;
	host = strcmp(ref->registry, "docker.io") ? ref->registry : "registry-1.docker.io";
	snprintf(g->base, sizeof(g->base), "%s://%s", plain_http(host, opts) ? "http" : "https",
		 host);
	berth_image_ref_format(ref, norm, sizeof(norm));
	pr_info("image: pulling %s from %s", ref_str, g->base);

	ret = fetch_manifest(g, ref->digest[0] ? ref->digest : ref->tag, &top, digest);
	if (ret)
		goto out;
	if (top.kind == BERTH_MANIFEST_INDEX) {
		pick = berth_manifest_pick(&top, opts->os, opts->architecture);
		if (pick < 0) {
			berth_image_seterr(err, errlen, "no image for platform %s/%s in the manifest list",
					   opts->os ? opts->os : "linux",
					   opts->architecture ? opts->architecture : "amd64");
			ret = -ENOENT;
			goto out;
		}
		ret = fetch_manifest(g, top.d[pick].digest, &m, digest);
		if (ret)
			goto out;
		if (m.kind != BERTH_MANIFEST_IMAGE) {
			berth_image_seterr(err, errlen, "manifest list entry %s is not an image manifest",
					   top.d[pick].digest);
			ret = -EINVAL;
			goto out;
		}
	} else {
		m = top;
		memset(&top, 0, sizeof(top));
	}
	{
		struct berth_descriptor cfg = { .size = 0 };
		uint64_t sz;

		strcpy(cfg.digest, m.config);
		ret = fetch_blob(g, &cfg, &sz);
		if (ret)
			goto out;
	}
	layers = calloc(m.n + 1, sizeof(*layers));
	sizes = calloc(m.n + 1, sizeof(*sizes));
	if (!layers || !sizes) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < m.n; i++) {
		ret = fetch_blob(g, &m.d[i], &sizes[i]);
		if (ret)
			goto out;
		layers[i] = m.d[i].digest;
	}
	ret = berth_images_add(imgs, m.config, digest, layers, sizes, m.n, refs, err, errlen);
	if (ret)
		goto out;
	if (id_out)
		strcpy(id_out, m.config);
	pr_info("image: pulled %s: %s (%zu layers)", ref_str, m.config, m.n);
out:
	free(layers);
	free(sizes);
	berth_manifest_free(&m);
	berth_manifest_free(&top);
	free(g);
	return ret;
}
