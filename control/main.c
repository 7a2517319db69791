// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * berth-server: the Kubernetes API over SQLite (default) or etcd. Writes
 * DIR/kubeconfig for kubectl; SIGTERM/SIGINT stop accepting, end watches
 * and exit 0.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <berth/log.h>

#include "apiserver/api.h"
#include "apiserver/http.h"
#include "apiserver/encrypt.h"
#include "apiserver/satoken.h"
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
	const char *encryption_config; /* EncryptionConfiguration file */
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
		{ "encryption-provider-config", required_argument, NULL, 'E' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	o->listen = "127.0.0.1:6443";
	o->service_cidr = "10.96.0.0/12";
	o->cluster_cidr = "10.244.0.0/16";
	o->compact_secs = 300;
	o->node_cidr_bits = 24;
	o->node_grace_s = 40;
	o->sa_issuer = BERTH_SA_DEFAULT_ISSUER;
	o->sa_max_exp_s = BERTH_SA_DEFAULT_MAX_EXPIRATION_S;
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

/* Written whole then renamed, so kubectl never reads half a file. */
static int write_kubeconfig(const char *dir, const char *server)
{
	char path[4096], tmp[4200];
	FILE *f;

	snprintf(path, sizeof(path), "%s/kubeconfig", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	fchmod(fileno(f), 0600);
	fprintf(f,
		"apiVersion: v1\n"
		"kind: Config\n"
		"clusters:\n"
		"- name: berth\n"
		"  cluster:\n"
		"    server: http://%s\n"
		"contexts:\n"
		"- name: berth\n"
		"  context:\n"
		"    cluster: berth\n"
		"    user: berth\n"
		"current-context: berth\n"
		"users:\n"
		"- name: berth\n"
		"  user: {}\n"
		"preferences: {}\n",
		server);
	if (fclose(f))
		return -errno;
	if (rename(tmp, path))
		return -errno;
	return 0;
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

int main(int argc, char **argv)
{
	struct berth_store *store = NULL;
	struct berth_http *http = NULL;
	struct berth_ctl *ctl = NULL;
	struct berth_encryption *enc = NULL;
	static struct berth_api api;
	struct options o = { 0 };
	char host[40];
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
	if (err)
		goto out;
	err = berth_http_start(&http, o.listen, berth_api_handle, &api);
	if (err) {
		pr_err("listen on %s: %s", o.listen, strerror(-err));
		goto out;
	}
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
	err = write_kubeconfig(o.data_dir, api.server_addr);
	if (err) {
		pr_err("write %s/kubeconfig: %s", o.data_dir, strerror(-err));
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
	pr_info("berth-server on http://%s, store %s", api.server_addr,
		berth_store_backend(store));
	sig = serve(store, &set, o.compact_secs);
	pr_info("signal %d: draining", sig);
	berth_http_quiesce(http);
	atomic_store(&api.stopping, true);
	sleep(1); /* watch streams notice within a second */
	err = 0;
out:
	berth_ctl_stop(ctl);
	berth_http_stop(http);
	berth_sa_key_free(api.sa_key);
	if (api.store)
		berth_api_fini(&api);
	if (store)
		berth_store_close(store);
	berth_encryption_free(enc);
	return err ? 1 : 0;
}
