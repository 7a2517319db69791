// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* TLS bootstrap and renewal of the node's client certificate. */
#define _GNU_SOURCE /* asprintf */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <json-c/json.h>

#include <berth/base64.h>
#include <berth/kube.h>
#include <berth/log.h>

#include "nodecert.h"

#define CSR_PATH "/apis/certificates.k8s.io/v1/certificatesigningrequests"
#define SIGNER "kubernetes.io/kube-apiserver-client-kubelet"
#define POLL_MS 250
#define CHECK_MAX_S 3600 /* the renewal thread looks at least hourly */
#define RETRY_S 10 /* after a failed renewal */
#define PEM_MAX (64 * 1024)

struct berth_nodecert {
	char *bootstrap, *target, *node;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
};

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf;
	size_t n;

	if (!f)
		return NULL;
	buf = calloc(1, PEM_MAX + 1);
	n = buf ? fread(buf, 1, PEM_MAX, f) : 0;
	fclose(f);
	if (buf && !n) {
		free(buf);
		buf = NULL;
	}
	return buf;
}

/* The certificate's CN and validity; -EINVAL if it does not parse. */
static int cert_info(const char *pem, char *cn, size_t cnlen, time_t *from,
		     time_t *to)
{
	gnutls_datum_t d = { (unsigned char *)pem, (unsigned int)strlen(pem) };
	gnutls_x509_crt_t crt;
	int ret = -EINVAL;

	if (gnutls_x509_crt_init(&crt) < 0)
		return -ENOMEM;
	if (gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM) >= 0 &&
	    gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0,
					  0, cn, &cnlen) >= 0) {
		*from = gnutls_x509_crt_get_activation_time(crt);
		*to = gnutls_x509_crt_get_expiration_time(crt);
		ret = 0;
	}
	gnutls_x509_crt_deinit(crt);
	return ret;
}

/* Seconds until the certificate of target should be renewed (<= 0: now). */
static long renew_in(const char *target, const char *node)
{
	struct berth_kube_config cfg = { 0 };
	char err[256], cn[256], want[300];
	time_t from, to;
	char *pem = NULL;
	long left = 0;

	if (access(target, R_OK) ||
	    berth_kube_config_load(target, NULL, &cfg, err, sizeof(err)))
		return 0;
	snprintf(want, sizeof(want), "system:node:%s", node);
	pem = cfg.cert_file ? slurp(cfg.cert_file) : NULL;
	if (pem && !cert_info(pem, cn, sizeof(cn), &from, &to) &&
	    !strcmp(cn, want) && to > from)
		left = (long)(to -
			      (to - from) * BERTH_NODECERT_RENEW_PCT / 100 -
			      time(NULL));
	free(pem);
	berth_kube_config_free(&cfg);
	return left;
}

bool berth_nodecert_valid(const char *target, const char *node)
{
	return renew_in(target, node) > 0;
}

/* A new ECDSA P-256 key and a CSR for system:node:node, both PEM. */
static int make_csr(const char *node, char **key_pem, char **csr_pem)
{
	gnutls_x509_privkey_t key = NULL;
	gnutls_x509_crq_t crq = NULL;
	gnutls_datum_t k = { 0 }, c = { 0 };
	char cn[300];
	int ret = -EIO;

	snprintf(cn, sizeof(cn), "system:node:%s", node);
	if (gnutls_x509_privkey_init(&key) < 0 ||
	    gnutls_x509_privkey_generate(
		    key, GNUTLS_PK_ECDSA,
		    GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) < 0 ||
	    gnutls_x509_crq_init(&crq) < 0 ||
	    gnutls_x509_crq_set_version(crq, 1) < 0 ||
	    gnutls_x509_crq_set_dn_by_oid(crq,
					  GNUTLS_OID_X520_ORGANIZATION_NAME, 0,
					  "system:nodes", 12) < 0 ||
	    gnutls_x509_crq_set_dn_by_oid(crq, GNUTLS_OID_X520_COMMON_NAME, 0,
					  cn, strlen(cn)) < 0 ||
	    gnutls_x509_crq_set_key(crq, key) < 0 ||
	    gnutls_x509_crq_sign2(crq, key, GNUTLS_DIG_SHA256, 0) < 0 ||
	    gnutls_x509_crq_export2(crq, GNUTLS_X509_FMT_PEM, &c) < 0 ||
	    gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &k) < 0)
		goto out;
	*key_pem = strndup((char *)k.data, k.size);
	*csr_pem = strndup((char *)c.data, c.size);
	ret = *key_pem && *csr_pem ? 0 : -ENOMEM;
out:
	if (k.data) {
		memset(k.data, 0, k.size);
		gnutls_free(k.data);
	}
	gnutls_free(c.data);
	if (crq)
		gnutls_x509_crq_deinit(crq);
	if (key)
		gnutls_x509_privkey_deinit(key);
	return ret;
}

static json_object *csr_object(const char *node, const char *csr_pem)
{
	json_object *o = json_object_new_object(),
		    *m = json_object_new_object();
	json_object *s = json_object_new_object(), *u = json_object_new_array();
	char *b64 = berth_base64(csr_pem, strlen(csr_pem), false);
	char gen[300];

	snprintf(gen, sizeof(gen), "node-csr-%s-", node);
	json_object_object_add(
		o, "apiVersion",
		json_object_new_string("certificates.k8s.io/v1"));
	json_object_object_add(
		o, "kind", json_object_new_string("CertificateSigningRequest"));
	json_object_object_add(m, "generateName", json_object_new_string(gen));
	json_object_object_add(o, "metadata", m);
	json_object_object_add(s, "request",
			       json_object_new_string(b64 ? b64 : ""));
	json_object_object_add(s, "signerName", json_object_new_string(SIGNER));
	json_object_array_add(u, json_object_new_string("digital signature"));
	json_object_array_add(u, json_object_new_string("client auth"));
	json_object_object_add(s, "usages", u);
	json_object_object_add(o, "spec", s);
	free(b64);
	return o;
}

static const char *jpath(json_object *o, const char *a, const char *b)
{
	json_object *v = NULL;

	if (!json_object_object_get_ex(o, a, &v) ||
	    !json_object_object_get_ex(v, b, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* Denied or Failed: why, else NULL. */
static const char *refused(json_object *csr)
{
	json_object *st = NULL, *conds = NULL;
	size_t i, n;

	if (!json_object_object_get_ex(csr, "status", &st) ||
	    !json_object_object_get_ex(st, "conditions", &conds) ||
	    !json_object_is_type(conds, json_type_array))
		return NULL;
	n = json_object_array_length(conds);
	for (i = 0; i < n; i++) {
		json_object *c = json_object_array_get_idx(conds, i), *t;

		if (json_object_object_get_ex(c, "type", &t) &&
		    (!strcmp(json_object_get_string(t), "Denied") ||
		     !strcmp(json_object_get_string(t), "Failed")))
			return json_object_get_string(t);
	}
	return NULL;
}

/* Create the CSR and wait for its certificate (PEM into *cert). */
static int request_cert(struct berth_kube *k, const char *node,
			const char *csr_pem, char **cert, char *err, size_t len)
{
	json_object *obj = csr_object(node, csr_pem), *out = NULL;
	char path[512], name[256];
	const char *v;
	int st, i;
	size_t n;

	st = berth_kube_post(k, CSR_PATH, obj, &out);
	json_object_put(obj);
	v = jpath(out, "metadata", "name");
	if (st != 201 || !v) {
		snprintf(err, len, "create CertificateSigningRequest: %s",
			 berth_kube_status_message(out, st, path,
						   sizeof(path)));
		json_object_put(out);
		return -EACCES;
	}
	snprintf(name, sizeof(name), "%s", v);
	snprintf(path, sizeof(path), CSR_PATH "/%s", name);
	for (i = 0; i < BERTH_NODECERT_WAIT_S * 1000 / POLL_MS; i++) {
		if ((v = jpath(out, "status", "certificate"))) {
			*cert = berth_base64_decode(v, false, &n);
			json_object_put(out);
			return *cert ? 0 : -EINVAL;
		}
		if ((v = refused(out))) {
			snprintf(err, len, "CSR %s: %s", name, v);
			json_object_put(out);
			return -EACCES;
		}
		json_object_put(out);
		out = NULL;
		usleep(POLL_MS * 1000);
		berth_kube_get(k, path, &out);
	}
	json_object_put(out);
	snprintf(
		err, len,
		"CSR %s: not signed within %d s (approve it: kubectl certificate approve %s)",
		name, BERTH_NODECERT_WAIT_S, name);
	return -ETIMEDOUT;
}

/* Write path (0600) through a temporary file and rename: never half. */
static int write_private(const char *path, const char *a, const char *b)
{
	char tmp[4096];
	int fd, ok;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	ok = !fchmod(fd, 0600) &&
	     write(fd, a, strlen(a)) == (ssize_t)strlen(a) &&
	     (!b || write(fd, b, strlen(b)) == (ssize_t)strlen(b)) &&
	     !fsync(fd);
	close(fd);
	if (!ok || rename(tmp, path)) {
		unlink(tmp);
		return -EIO;
	}
	return 0;
}

/* target: server and CA of cfg, the client cert and key in target.pem. */
static int write_kubeconfig(const char *target,
			    const struct berth_kube_config *cfg,
			    const char *node, const char *cert, const char *key)
{
	char pem[4096], *ca = cfg->ca_file ? slurp(cfg->ca_file) : NULL;
	char *ca64 = ca ? berth_base64(ca, strlen(ca), false) : NULL;
	char *text = NULL;
	int ret;

	snprintf(pem, sizeof(pem), "%s.pem", target);
	ret = write_private(pem, cert, key);
	if (!ret &&
	    asprintf(&text,
		     "apiVersion: v1\nkind: Config\nclusters:\n- name: berth\n"
		     "  cluster:\n    server: %s\n%s%s%s"
		     "users:\n- name: system:node:%s\n  user:\n"
		     "    client-certificate: %s\n    client-key: %s\n"
		     "contexts:\n- name: node\n  context:\n    cluster: berth\n"
		     "    user: system:node:%s\ncurrent-context: node\n",
		     cfg->server,
		     ca64 ? "    certificate-authority-data: " : "",
		     ca64 ? ca64 : "", ca64 ? "\n" : "", node, pem, pem,
		     node) < 0)
		ret = -ENOMEM;
	if (!ret)
		ret = write_private(target, text, NULL);
	free(text);
	free(ca);
	free(ca64);
	return ret;
}

/* One round: a key, a CSR through creds, the certificate into target. */
static int renew(const char *creds, const char *target, const char *node,
		 char *err, size_t len)
{
	struct berth_kube_config cfg = { 0 };
	struct berth_kube *k = NULL;
	char *key = NULL, *csr = NULL, *cert = NULL;
	int ret;

	ret = berth_kube_config_load(creds, NULL, &cfg, err, len);
	if (ret)
		return ret;
	ret = make_csr(node, &key, &csr);
	if (ret) {
		snprintf(err, len, "make a key and CSR: %s", strerror(-ret));
		goto out;
	}
	{
		struct berth_kube_config c2 = { 0 };

		ret = berth_kube_config_load(creds, NULL, &c2, err, len);
		if (!ret)
			ret = berth_kube_new(&k, &c2);
		if (ret)
			goto out;
	}
	ret = request_cert(k, node, csr, &cert, err, len);
	if (!ret) {
		ret = write_kubeconfig(target, &cfg, node, cert, key);
		if (ret)
			snprintf(err, len, "write %s: %s", target,
				 strerror(-ret));
	}
out:
	berth_kube_free(k);
	berth_kube_config_free(&cfg);
	if (key)
		memset(key, 0, strlen(key));
	free(key);
	free(csr);
	free(cert);
	return ret;
}

int berth_nodecert_ensure(const char *bootstrap, const char *target,
			  const char *node, char *err, size_t len)
{
	int ret;

	if (berth_nodecert_valid(target, node))
		return 0;
	/* a node still holding a live certificate renews with it */
	if (!access(target, R_OK)) {
		ret = renew(target, target, node, err, len);
		if (!ret)
			goto done;
		pr_warn("node certificate: renew with %s: %s", target, err);
	}
	if (!bootstrap) {
		snprintf(
			err, len,
			"%s has no valid certificate for system:node:%s and there is no --bootstrap-kubeconfig",
			target, node);
		return -ENOENT;
	}
	ret = renew(bootstrap, target, node, err, len);
	if (ret)
		return ret;
done:
	pr_info("node certificate: system:node:%s written to %s", node, target);
	return 0;
}

static void *renew_thread(void *arg)
{
	struct berth_nodecert *nc = arg;
	char err[512];

	pthread_mutex_lock(&nc->lock);
	while (!nc->stop) {
		long wait = renew_in(nc->target, nc->node);
		struct timespec ts;

		if (wait <= 0) {
			pthread_mutex_unlock(&nc->lock);
			wait = berth_nodecert_ensure(nc->bootstrap, nc->target,
						     nc->node, err,
						     sizeof(err)) ?
				       RETRY_S :
				       0;
			if (wait)
				pr_warn("node certificate: %s", err);
			pthread_mutex_lock(&nc->lock);
			if (!wait)
				continue;
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += wait < CHECK_MAX_S ? wait : CHECK_MAX_S;
		pthread_cond_timedwait(&nc->cond, &nc->lock, &ts);
	}
	pthread_mutex_unlock(&nc->lock);
	return NULL;
}

int berth_nodecert_start(const char *bootstrap, const char *target,
			 const char *node, struct berth_nodecert **out)
{
	struct berth_nodecert *nc = calloc(1, sizeof(*nc));
	int ret;

	if (!nc)
		return -ENOMEM;
	nc->bootstrap = bootstrap ? strdup(bootstrap) : NULL;
	nc->target = strdup(target);
	nc->node = strdup(node);
	pthread_mutex_init(&nc->lock, NULL);
	pthread_cond_init(&nc->cond, NULL);
	ret = -pthread_create(&nc->thread, NULL, renew_thread, nc);
	if (ret) {
		free(nc->bootstrap);
		free(nc->target);
		free(nc->node);
		free(nc);
		return ret;
	}
	*out = nc;
	return 0;
}

void berth_nodecert_stop(struct berth_nodecert *nc)
{
	if (!nc)
		return;
	pthread_mutex_lock(&nc->lock);
	nc->stop = true;
	pthread_cond_signal(&nc->cond);
	pthread_mutex_unlock(&nc->lock);
	pthread_join(nc->thread, NULL);
	pthread_mutex_destroy(&nc->lock);
	pthread_cond_destroy(&nc->cond);
	free(nc->bootstrap);
	free(nc->target);
	free(nc->node);
	free(nc);
}
