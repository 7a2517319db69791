// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * berth-server: the Kubernetes API over SQLite (default) or etcd, HTTPS
 * with client certificates, tokens and RBAC. Writes DIR/kubeconfig (the
 * admin's) for kubectl; SIGTERM/SIGINT stop accepting, end watches and
 * exit 0.
 */
#define _GNU_SOURCE /* asprintf */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <berth/base64.h>
#include <berth/fsutil.h>
#include <berth/log.h>

#include "apiserver/api.h"
#include "apiserver/authn.h"
#include "apiserver/csr.h"
#include "apiserver/http.h"
#include "apiserver/rbac.h"
#include "apiserver/encrypt.h"
#include "apiserver/satoken.h"
#include "apiserver/nodeauthz.h"
#include "apiserver/tls.h"
#include "apiserver/tokenreq.h"
#include "controllers/ctl.h"
#include "store/store.h"

#define MAX_ETCD 16

struct options {
	const char *data_dir;
	const char *listen;
	char *etcd;
	const char *service_cidr;
	const char *cluster_cidr;
	long compact_secs;
	const char *controllers; /* comma list, "none", NULL: all */
	int node_cidr_bits;
	int node_grace_s; /* node lifecycle: Unknown after this */
	const char *sa_key_file; /* NULL: DATA_DIR/sa.key, made if missing */
	const char *sa_issuer;
	long long sa_max_exp_s;
	struct berth_tls_opts tls; /* --tls-cert-file ... --client-ca-file */
	const char *insecure_addr; /* --insecure-bind-address */
	long insecure_port; /* -1: no plain-HTTP listener */
	const char *token_file; /* --token-auth-file */
	bool anonymous; /* --anonymous-auth */
	bool always_allow; /* --authorization-mode AlwaysAllow */
	const char *encryption_config; /* EncryptionConfiguration file */
	bool no_node_authz; /* --authorization-mode RBAC: no Node authorizer */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: berth-server --data-dir DIR [--listen ADDR:PORT] [--etcd URL[,URL...]]\n"
		"                    [--service-cidr CIDR] [--cluster-cidr CIDR] [-v]\n"
		"  --listen        default 127.0.0.1:6443; port 0 picks a free one\n"
		"  --etcd          use etcd v3 (JSON gateway) instead of DIR/state.db\n"
		"  --service-cidr  ClusterIP range, default 10.96.0.0/12\n"
		"  --cluster-cidr  pod range, default 10.244.0.0/16\n"
		"  --compact-interval SECONDS  history older than one interval is\n"
		"                  compacted (watches from before get 410), default 300\n"
		"  --controllers   comma list of controllers (and scheduler) to run,\n"
		"                  or none; default all\n"
		"  --node-cidr-mask-size BITS  prefix of each node's podCIDR, default 24\n"
		"  --node-monitor-grace-period SECONDS  a node without heartbeats\n"
		"                  this long turns Ready=Unknown, default 40\n"
		"  --service-account-key-file PEM  RSA private key that signs\n"
		"                  ServiceAccount tokens; default DATA_DIR/sa.key,\n"
		"                  generated at first start\n"
		"  --service-account-issuer URL  iss of the tokens, default\n"
		"                  " BERTH_SA_DEFAULT_ISSUER "\n"
		"  --service-account-max-token-expiration DURATION  longer\n"
		"                  TokenRequests are shortened to it (e.g. 48h, 90m,\n"
		"                  3600s), default 48h\n"
		"  --tls-cert-file PEM --tls-private-key-file PEM  serving\n"
		"                  certificate; default DATA_DIR/apiserver.crt,\n"
		"                  issued by DATA_DIR/ca.crt (both made at first start)\n"
		"  --client-ca-file PEM  CAs client certificates may chain to,\n"
		"                  besides DATA_DIR/ca.crt\n"
		"  --token-auth-file CSV  static tokens: token,user,uid,\"g1,g2\"\n"
		"  --anonymous-auth BOOL  requests without credentials are\n"
		"                  system:anonymous (true) or 401 (false, default)\n"
		"  --authorization-mode Node,RBAC|RBAC|AlwaysAllow  default Node,RBAC\n"
		"  --insecure-port PORT  also serve plain HTTP, every request as\n"
		"                  system:masters (0 picks a port; writes\n"
		"                  DATA_DIR/kubeconfig-insecure); loopback only\n"
		"  --insecure-bind-address IP  default 127.0.0.1; must be loopback\n"
		"  --encryption-provider-config FILE  EncryptionConfiguration\n"
		"                  (aesgcm, identity) for data at rest, e.g. Secrets\n");
}

/* A Go-style duration ("48h", "1h30m", "600s", or bare seconds) in s. */
static int parse_duration(const char *s, long long *out)
{
	long long total = 0, v;
	char *end;

	if (!*s)
		return -EINVAL;
	while (*s) {
		errno = 0;
		v = strtoll(s, &end, 10);
		if (end == s || v < 0 || errno)
			return -EINVAL;
		switch (*end) {
		case 'h':
			v *= 3600;
			end++;
			break;
		case 'm':
			v *= 60;
			end++;
			break;
		case 's':
			end++;
			break;
		case 0:
			break;
		default:
			return -EINVAL;
		}
		total += v;
		s = end;
	}
	*out = total;
	return 0;
}

static int parse_bool(const char *s, bool *out)
{
	if (!strcmp(s, "true") || !strcmp(s, "1"))
		*out = true;
	else if (!strcmp(s, "false") || !strcmp(s, "0"))
		*out = false;
	else
		return -EINVAL;
	return 0;
}

static int bad_value(const char *flag, const char *v)
{
	fprintf(stderr, "%s: bad value \"%s\"\n", flag, v);
	return -EINVAL;
}

static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "data-dir", required_argument, NULL, 'd' },
		{ "listen", required_argument, NULL, 'l' },
		{ "etcd", required_argument, NULL, 'e' },
		{ "service-cidr", required_argument, NULL, 's' },
		{ "cluster-cidr", required_argument, NULL, 'c' },
		{ "compact-interval", required_argument, NULL, 'i' },
		{ "controllers", required_argument, NULL, 'C' },
		{ "node-cidr-mask-size", required_argument, NULL, 'm' },
		{ "node-monitor-grace-period", required_argument, NULL, 'g' },
		{ "service-account-key-file", required_argument, NULL, 'K' },
		{ "service-account-issuer", required_argument, NULL, 'I' },
		{ "service-account-max-token-expiration", required_argument,
		  NULL, 'X' },
		{ "tls-cert-file", required_argument, NULL, 'T' },
		{ "tls-private-key-file", required_argument, NULL, 'P' },
		{ "client-ca-file", required_argument, NULL, 'A' },
		{ "token-auth-file", required_argument, NULL, 'F' },
		{ "anonymous-auth", required_argument, NULL, 'a' },
		{ "authorization-mode", required_argument, NULL, 'Z' },
		{ "insecure-port", required_argument, NULL, 'p' },
		{ "insecure-bind-address", required_argument, NULL, 'b' },
		{ "encryption-provider-config", required_argument, NULL, 'E' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	int c;

	o->listen = "127.0.0.1:6443";
	o->service_cidr = "10.96.0.0/12";
	o->cluster_cidr = "10.244.0.0/16";
	o->compact_secs = 300;
	o->node_cidr_bits = 24;
	o->node_grace_s = 40;
	o->sa_issuer = BERTH_SA_DEFAULT_ISSUER;
	o->sa_max_exp_s = BERTH_SA_DEFAULT_MAX_EXPIRATION_S;
	o->insecure_addr = "127.0.0.1";
	o->insecure_port = -1;
	while ((c = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			o->data_dir = optarg;
			break;
		case 'l':
			o->listen = optarg;
			break;
		case 'e':
			o->etcd = optarg;
			break;
		case 's':
			o->service_cidr = optarg;
			break;
		case 'c':
			o->cluster_cidr = optarg;
			break;
		case 'i':
			o->compact_secs = strtol(optarg, NULL, 10);
			if (o->compact_secs <= 0) {
				usage(stderr);
				return -EINVAL;
			}
			break;
		case 'C':
			o->controllers = optarg;
			break;
		case 'm':
			o->node_cidr_bits = (int)strtol(optarg, NULL, 10);
			if (o->node_cidr_bits < 8 || o->node_cidr_bits > 30) {
				usage(stderr);
				return -EINVAL;
			}
			break;
		case 'g':
			o->node_grace_s = (int)strtol(optarg, NULL, 10);
			if (o->node_grace_s < 1) {
				usage(stderr);
				return -EINVAL;
			}
			break;
		case 'K':
			o->sa_key_file = optarg;
			break;
		case 'I':
			o->sa_issuer = optarg;
			break;
		case 'X':
			if (parse_duration(optarg, &o->sa_max_exp_s) ||
			    o->sa_max_exp_s < BERTH_SA_MIN_EXPIRATION_S) {
				fprintf(stderr,
					"--service-account-max-token-expiration %s: a duration of at least 10m\n",
					optarg);
				return -EINVAL;
			}
			break;
		case 'T':
			o->tls.cert_file = optarg;
			break;
		case 'P':
			o->tls.key_file = optarg;
			break;
		case 'A':
			o->tls.client_ca_file = optarg;
			break;
		case 'F':
			o->token_file = optarg;
			break;
		case 'a':
			if (parse_bool(optarg, &o->anonymous))
				return bad_value("--anonymous-auth", optarg);
			break;
		case 'Z':
			if (strcmp(optarg, "RBAC") && strcmp(optarg, "AlwaysAllow") &&
			    strcmp(optarg, "Node,RBAC"))
				return bad_value("--authorization-mode", optarg);
			o->always_allow = !strcmp(optarg, "AlwaysAllow");
			o->no_node_authz = strcmp(optarg, "Node,RBAC");
			break;
		case 'p':
			o->insecure_port = strtol(optarg, &end, 10);
			if (*end || end == optarg || o->insecure_port < 0 ||
			    o->insecure_port > 65535)
				return bad_value("--insecure-port", optarg);
			break;
		case 'b':
			o->insecure_addr = optarg;
			break;
		case 'E':
			o->encryption_config = optarg;
			break;
		case 'v':
			berth_log_level = BERTH_LOG_DEBUG;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (!o->data_dir || optind != argc) {
		usage(stderr);
		return -EINVAL;
	}
	return 0;
}

static int open_store(const struct options *o, struct berth_store **s)
{
	const char *eps[MAX_ETCD];
	char path[4096], *save = NULL, *tok;
	size_t n = 0;

	if (!o->etcd) {
		snprintf(path, sizeof(path), "%s/state.db", o->data_dir);
		return berth_store_open_sqlite(s, path);
	}
	for (tok = strtok_r(o->etcd, ",", &save); tok && n < MAX_ETCD;
	     tok = strtok_r(NULL, ",", &save))
		eps[n++] = tok;
	if (!n)
		return -EINVAL;
	return berth_store_open_etcd(s, eps, n);
}

/*
 * Like kube-apiserver: each interval, compact up to the revision seen at
 * the previous tick, so at least one interval of history stays for
 * watches to resume from. Returns the signal that ended the wait.
 */
static int serve(struct berth_store *store, const sigset_t *set, long secs)
{
	struct timespec one = { 1, 0 };
	time_t next = time(NULL) + secs;
	int64_t prev = 0, rev;
	int sig, err;

	for (;;) {
		sig = sigtimedwait(set, NULL, &one);
		if (sig > 0)
			return sig;
		if (time(NULL) < next)
			continue;
		next = time(NULL) + secs;
		if (prev > 0) {
			err = berth_store_compact(store, prev);
			if (err)
				pr_warn("compact to %lld: %s", (long long)prev,
					strerror(-err));
			else
				pr_debug("compacted to %lld", (long long)prev);
		}
		if (!berth_store_revision(store, &rev))
			prev = rev;
	}
}

/*
 * kubectl's config: server URL and, for HTTPS, the CA and admin cert;
 * written whole then renamed, so kubectl never reads half a file.
 */
static int write_kubeconfig(const char *path, const char *url,
			    const struct berth_tls *tls)
{
	char *ca = NULL, *cert = NULL, *key = NULL, *text = NULL;
	int ret = -ENOMEM;

	if (tls) {
		ca = berth_base64(tls->server_ca, strlen(tls->server_ca), false);
		cert = berth_base64(tls->admin_cert, strlen(tls->admin_cert),
				    false);
		key = berth_base64(tls->admin_key, strlen(tls->admin_key),
				   false);
		if (!ca || !cert || !key)
			goto out;
	}
	if (asprintf(&text,
		     "apiVersion: v1\n"
		     "kind: Config\n"
		     "clusters:\n"
		     "- name: berth\n"
		     "  cluster:\n"
		     "    server: %s\n%s%s%s"
		     "contexts:\n"
		     "- name: berth\n"
		     "  context:\n"
		     "    cluster: berth\n"
		     "    user: %s\n"
		     "current-context: berth\n"
		     "users:\n"
		     "- name: %s\n"
		     "  user:%s%s%s%s%s\n"
		     "preferences: {}\n",
		     url, ca ? "    certificate-authority-data: " : "",
		     ca ? ca : "", ca ? "\n" : "",
		     tls ? BERTH_TLS_ADMIN_USER : "berth",
		     tls ? BERTH_TLS_ADMIN_USER : "berth",
		     tls ? "\n    client-certificate-data: " : " {}",
		     cert ? cert : "", tls ? "\n    client-key-data: " : "",
		     key ? key : "", "") < 0) {
		text = NULL;
		goto out;
	}
	ret = berth_write_file_atomic(path, text, strlen(text), 0600);
out:
	free(text);
	free(ca);
	free(cert);
	free(key);
	return ret;
}

/* The key that signs ServiceAccount tokens, made at first start. */
static int open_sa_key(const struct options *o, struct berth_api *api)
{
	char path[4096];
	int err;

	if (o->sa_key_file)
		snprintf(path, sizeof(path), "%s", o->sa_key_file);
	else
		snprintf(path, sizeof(path), "%s/sa.key", o->data_dir);
	err = berth_sa_key_load(path, !o->sa_key_file, &api->sa_key);
	if (err) {
		pr_err("service account key %s: %s", path,
		       err == -EINVAL ? "not a PEM RSA private key" :
					strerror(-err));
		return err;
	}
	snprintf(api->sa_issuer, sizeof(api->sa_issuer), "%s", o->sa_issuer);
	api->sa_max_expiration_s = o->sa_max_exp_s;
	return 0;
}

/* Storage of the SAN strings berth_tls_opts points to. */
struct san_bufs {
	char bind[64];
	char svc[INET_ADDRSTRLEN];
	char host[HOST_NAME_MAX + 1];
	char ips[BERTH_TLS_MAX_SANS][INET_ADDRSTRLEN];
};

/* Bound to every address: each of this host's IPv4 addresses in a SAN. */
static void local_ips(struct options *o, struct san_bufs *b)
{
	struct ifaddrs *ifs, *i;
	size_t n = 0;

	if (getifaddrs(&ifs))
		return;
	for (i = ifs; i; i = i->ifa_next) {
		struct sockaddr_in *sa = (struct sockaddr_in *)i->ifa_addr;

		if (!sa || sa->sin_family != AF_INET ||
		    (ntohl(sa->sin_addr.s_addr) >> 24) == 127 ||
		    o->tls.nips + 2 >= BERTH_TLS_MAX_SANS)
			continue;
		inet_ntop(AF_INET, &sa->sin_addr, b->ips[n], INET_ADDRSTRLEN);
		o->tls.ips[o->tls.nips++] = b->ips[n++];
	}
	freeifaddrs(ifs);
}

/* The names and addresses the generated serving certificate covers. */
static void tls_sans(struct options *o, const struct berth_api *api,
		     struct san_bufs *b)
{
	static const char *const dns[] = {
		"localhost", "kubernetes", "kubernetes.default",
		"kubernetes.default.svc", "kubernetes.default.svc.cluster.local"
	};
	const char *colon = strrchr(o->listen, ':');
	size_t i;

	snprintf(b->bind, sizeof(b->bind), "%.*s",
		 (int)(colon ? colon - o->listen : 0), o->listen);
	o->tls.ips[o->tls.nips++] = "127.0.0.1";
	if (!strcmp(b->bind, "0.0.0.0"))
		local_ips(o, b);
	else if (*b->bind && strcmp(b->bind, "127.0.0.1"))
		o->tls.ips[o->tls.nips++] = b->bind;
	inet_ntop(AF_INET, &(struct in_addr){ htonl(api->svc_net + 1) },
		  b->svc, sizeof(b->svc));
	o->tls.ips[o->tls.nips++] = b->svc;
	for (i = 0; i < sizeof(dns) / sizeof(dns[0]); i++)
		o->tls.dns[o->tls.ndns++] = dns[i];
	if (!gethostname(b->host, sizeof(b->host) - 1) && *b->host &&
	    strcmp(b->host, "localhost"))
		o->tls.dns[o->tls.ndns++] = b->host;
}

/* Authenticators and RBAC (with its bootstrap roles made later). */
static int open_auth(const struct options *o, struct berth_api *api)
{
	int err = berth_authn_new(o->token_file, o->anonymous, &api->authn);

	if (err)
		return err;
	api->authz_always_allow = o->always_allow;
	if (o->always_allow)
		return 0;
	err = berth_rbac_new(api->store, &api->rbac);
	if (err) {
		pr_err("rbac: watch the roles: %s", strerror(-err));
		return err;
	}
	if (o->no_node_authz)
		return 0;
	err = berth_nodeauthz_new(api->store, &api->nodeauthz);
	if (err)
		pr_err("node authorizer: index the pods: %s", strerror(-err));
	return err;
}

static int start_insecure(const struct options *o, struct berth_api *api,
			  struct berth_http **http)
{
	char addr[128], url[160], path[4096];
	int err;

	if (o->insecure_port < 0)
		return 0;
	snprintf(addr, sizeof(addr), "%s:%ld", o->insecure_addr,
		 o->insecure_port);
	err = berth_http_start_insecure(http, addr, berth_api_handle, api);
	if (err == -EPERM || err == -EINVAL) {
		pr_err("--insecure-bind-address %s: plain HTTP is served on a loopback address (127.0.0.0/8) only",
		       o->insecure_addr);
		return err;
	}
	if (err) {
		pr_err("insecure listener on %s: %s", addr, strerror(-err));
		return err;
	}
	snprintf(url, sizeof(url), "http://%s:%u", o->insecure_addr,
		 berth_http_port(*http));
	snprintf(path, sizeof(path), "%s/kubeconfig-insecure", o->data_dir);
	err = write_kubeconfig(path, url, NULL);
	if (err)
		pr_err("write %s: %s", path, strerror(-err));
	else
		pr_warn("plain HTTP on %s: every request there is system:masters",
			url + 7);
	return err;
}

/*
 * What pods verify the server with (ConfigMap kube-root-ca.crt): the CA
 * berth made and signs its serving certificate with, unless the operator
 * brought a serving certificate of their own (then --client-ca-file is no
 * answer either: say so, publish nothing).
 */
static void load_root_ca(const struct options *o, struct berth_api *api)
{
	char path[4096];
	size_t len;

	if (o->tls.cert_file) {
		pr_info("own serving certificate: ConfigMap kube-root-ca.crt is not published");
		return;
	}
	snprintf(path, sizeof(path), "%s/ca.crt", o->data_dir);
	if (berth_read_file(path, &api->root_ca_pem, &len))
		pr_warn("read %s: ConfigMap kube-root-ca.crt is not published",
			path);
}

/* The CA that signs CSRs; without its key CSRs are kept but not signed. */
static void load_csr_signer(const struct options *o, struct berth_api *api)
{
	char crt[4096], key[4096];

	snprintf(crt, sizeof(crt), "%s/ca.crt", o->data_dir);
	snprintf(key, sizeof(key), "%s/ca.key", o->data_dir);
	if (berth_csr_signer_load(crt, key, &api->csr_signer))
		pr_warn("CertificateSigningRequests will not be signed");
}

static int start_https(struct options *o, struct berth_api *api,
		       struct berth_tls *tls, struct berth_http **http)
{
	static struct san_bufs sans;
	struct berth_http_tls ht;
	int err;

	tls_sans(o, api, &sans);
	err = berth_tls_setup(o->data_dir, &o->tls, tls);
	if (err)
		return err;
	load_csr_signer(o, api);
	ht.cert = tls->cert;
	ht.key = tls->key;
	ht.trust = tls->trust;
	err = berth_http_start_tls(http, o->listen, &ht, berth_api_handle, api);
	if (err)
		pr_err("listen on %s: %s", o->listen, strerror(-err));
	return err;
}

int main(int argc, char **argv)
{
	struct berth_http *http = NULL, *insecure = NULL;
	struct berth_store *store = NULL;
	struct berth_ctl *ctl = NULL;
	struct berth_encryption *enc = NULL;
	static struct berth_api api;
	static struct berth_tls tls;
	struct options o = { 0 };
	char host[40], url[128], path[4096];
	const char *colon;
	sigset_t set;
	int err, sig;

	if (parse_args(argc, argv, &o))
		return 2;
	if (mkdir(o.data_dir, 0700) && errno != EEXIST) {
		pr_err("data dir %s: %s", o.data_dir, strerror(errno));
		return 1;
	}
	/* threads started from here on inherit the blocked signals */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	err = open_store(&o, &store);
	if (err) {
		pr_err("open store (%s): %s", o.etcd ? o.etcd : "sqlite",
		       strerror(-err));
		return 1;
	}
	if (o.encryption_config) {
		char msg[256];

		err = berth_encryption_load(o.encryption_config, &enc, msg,
					    sizeof(msg));
		if (err) {
			pr_err("--encryption-provider-config: %s", msg);
			goto out;
		}
		berth_store_set_transformer(store,
					    berth_encryption_transformer(enc));
	}
	err = berth_api_init(&api, store, o.service_cidr, o.cluster_cidr);
	if (err) {
		pr_err("service CIDR %s: invalid", o.service_cidr);
		goto out;
	}
	err = open_sa_key(&o, &api);
	if (!err)
		err = open_auth(&o, &api);
	if (!err)
		err = start_https(&o, &api, &tls, &http);
	if (err)
		goto out;
	load_root_ca(&o, &api);
	colon = strrchr(o.listen, ':');
	snprintf(host, sizeof(host), "%.*s",
		 (int)(colon ? colon - o.listen : 0), o.listen);
	if (!strcmp(host, "0.0.0.0"))
		snprintf(host, sizeof(host), "127.0.0.1");
	snprintf(api.server_addr, sizeof(api.server_addr), "%s:%u", host,
		 berth_http_port(http));
	err = berth_api_bootstrap(&api);
	if (err) {
		pr_err("create the default namespaces: %s", strerror(-err));
		goto out;
	}
	err = berth_rbac_bootstrap(&api);
	if (err)
		goto out;
	err = start_insecure(&o, &api, &insecure);
	if (err)
		goto out;
	snprintf(url, sizeof(url), "https://%s", api.server_addr);
	snprintf(path, sizeof(path), "%s/kubeconfig", o.data_dir);
	err = write_kubeconfig(path, url, &tls);
	if (err) {
		pr_err("write %s: %s", path, strerror(-err));
		goto out;
	}
	if (!o.controllers || strcmp(o.controllers, "none")) {
		char id[512], host[128] = "localhost", *dir;

		/* stable across restarts of this server, distinct between two */
		gethostname(host, sizeof(host) - 1);
		dir = realpath(o.data_dir, NULL);
		snprintf(id, sizeof(id), "%s:%s", host, dir ?: o.data_dir);
		free(dir);
		struct berth_ctl_options co = {
			.cluster_cidr = o.cluster_cidr,
			.node_cidr_bits = (unsigned int)o.node_cidr_bits,
			.node_grace_s = o.node_grace_s,
			.eviction_s = 300,
			.only = o.controllers,
			.identity = id,
		};

		err = berth_ctl_start(&ctl, &api, &co);
		if (err) {
			pr_err("start the controllers: %s", strerror(-err));
			goto out;
		}
	}
	pr_info("berth-server on https://%s, store %s", api.server_addr,
		berth_store_backend(store));
	sig = serve(store, &set, o.compact_secs);
	pr_info("signal %d: draining", sig);
	berth_http_quiesce(http);
	if (insecure)
		berth_http_quiesce(insecure);
	atomic_store(&api.stopping, true);
	sleep(1); /* watch streams notice within a second */
	err = 0;
out:
	berth_ctl_stop(ctl);
	berth_http_stop(http);
	berth_http_stop(insecure);
	berth_nodeauthz_free(api.nodeauthz);
	berth_csr_signer_free(api.csr_signer);
	berth_rbac_free(api.rbac);
	berth_authn_free(api.authn);
	berth_tls_free(&tls);
	berth_sa_key_free(api.sa_key);
	free(api.root_ca_pem);
	if (api.store)
		berth_api_fini(&api);
	if (store)
		berth_store_close(store);
	berth_encryption_free(enc);
	return err ? 1 : 0;
}
