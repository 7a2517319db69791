// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The store suite's etcd backend: each test gets its own etcd on loopback
 * ports picked free, with its data in a temporary directory; both go away
 * when the test ends, however it ends.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include <berth/log.h>

#include "fixture.h"

#define ETCD_START_TRIES 5 /* a port picked free may be taken meanwhile */
#define ETCD_HEALTH_TIMEOUT_MS 10000
#define ETCD_HEALTH_POLL_MS 5
#define ETCD_DIR_PREFIX "berth-etcd." /* + the test's pid + '.' in /tmp */

/* The etcd of this test process; owner guards against forked children. */
static struct {
	pid_t pid, owner;
	char dir[64];
	char url[64];
	bool atexit_set;
} etcd;

/* A loopback port nobody listens on right now. */
static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd, port = -1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -errno;
	if (!bind(fd, (struct sockaddr *)&a, sizeof(a)) &&
	    !getsockname(fd, (struct sockaddr *)&a, &len))
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void rm_tree(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/*
 * A test killed outright leaves its data directory behind (its etcd dies
 * with it, see etcd_spawn): the next test removes the directories of test
 * processes that are gone.
 */
static void sweep_stale_dirs(void)
{
	char path[300];
	struct dirent *de;
	DIR *d = opendir("/tmp");
	long pid;

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, ETCD_DIR_PREFIX,
			    strlen(ETCD_DIR_PREFIX)))
			continue;
		pid = strtol(de->d_name + strlen(ETCD_DIR_PREFIX), NULL, 10);
		if (pid <= 0 || !kill(pid, 0) || errno != ESRCH)
			continue;
		snprintf(path, sizeof(path), "/tmp/%s", de->d_name);
		rm_tree(path);
	}
	closedir(d);
}

static void etcd_stop(void)
{
	if (etcd.owner != getpid())
		return; /* a forked child leaves its parent's etcd alone */
	if (etcd.pid > 0) {
		kill(etcd.pid, SIGKILL);
		waitpid(etcd.pid, NULL, 0);
		etcd.pid = 0;
	}
	if (etcd.dir[0]) {
		rm_tree(etcd.dir);
		etcd.dir[0] = '\0';
	}
}

static size_t discard(char *p, size_t size, size_t nmemb, void *arg)
{
	char *health = arg;

	if (memmem(p, size * nmemb, "\"true\"", 6))
		*health = 1;
	return size * nmemb;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, ms % 1000 * 1000000 };

	nanosleep(&ts, NULL);
}

/* /health says true once a leader is elected; 0, or -errno if etcd died. */
static int etcd_wait_healthy(void)
{
	char url[96], health = 0;
	CURL *curl = curl_easy_init();
	int waited, status, err = -ETIMEDOUT;

	if (!curl)
		return -ENOMEM;
	snprintf(url, sizeof(url), "%s/health", etcd.url);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 1000L);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &health);
	for (waited = 0; waited < ETCD_HEALTH_TIMEOUT_MS;
	     waited += ETCD_HEALTH_POLL_MS) {
		if (waitpid(etcd.pid, &status, WNOHANG) == etcd.pid) {
			etcd.pid = 0;
			err = -ECHILD;
			break;
		}
		if (curl_easy_perform(curl) == CURLE_OK && health) {
			err = 0;
			break;
		}
		sleep_ms(ETCD_HEALTH_POLL_MS);
	}
	curl_easy_cleanup(curl);
	return err;
}

static int etcd_spawn(void)
{
	char data[80], log[80], listen[64], peer[64], cluster[80];
	int cport = free_port(), pport = free_port();
	pid_t parent = getpid();
	char *argv[] = {
		"etcd", "--name", "default", "--data-dir", data,
		"--listen-client-urls", etcd.url, "--advertise-client-urls",
		etcd.url, "--listen-peer-urls", listen,
		"--initial-advertise-peer-urls", peer, "--initial-cluster",
		cluster,
		/*
		 * Only the client gets killed in the crash test, never etcd,
		 * so skipping fsync keeps every acknowledged write.
		 */
		"--unsafe-no-fsync",
		/* a single member elects itself after one election timeout */
		"--heartbeat-interval", "10", "--election-timeout", "50",
		"--max-request-bytes", "16777216", "--log-level", "error", NULL
	};
	int fd;

	if (cport < 0 || pport < 0 || cport == pport)
		return -EADDRINUSE;
	snprintf(etcd.url, sizeof(etcd.url), "http://127.0.0.1:%d", cport);
	snprintf(listen, sizeof(listen), "http://127.0.0.1:%d", pport);
	snprintf(peer, sizeof(peer), "%s", listen);
	snprintf(cluster, sizeof(cluster), "default=%s", listen);
	snprintf(data, sizeof(data), "%s/data", etcd.dir);
	snprintf(log, sizeof(log), "%s/etcd.log", etcd.dir);

	etcd.pid = fork();
	if (etcd.pid < 0)
		return -errno;
	if (!etcd.pid) {
		/* die with the test, even when it dies without clean-up */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		execvp(getenv("ETCD") ? getenv("ETCD") : "etcd", argv);
		_exit(127);
	}
	return etcd_wait_healthy();
}

static void etcd_show_log(void)
{
	char path[80], line[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/etcd.log", etcd.dir);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		pr_err("etcd: %s", line);
	fclose(f);
}

static int etcd_start(void)
{
	int err = -EIO, i;

	etcd.owner = getpid();
	if (!etcd.atexit_set) {
		atexit(etcd_stop);
		etcd.atexit_set = true;
		sweep_stale_dirs();
	}
	for (i = 0; i < ETCD_START_TRIES; i++) {
		snprintf(etcd.dir, sizeof(etcd.dir),
			 "/tmp/" ETCD_DIR_PREFIX "%d.XXXXXX", (int)etcd.owner);
		if (!mkdtemp(etcd.dir)) {
			etcd.dir[0] = '\0';
			return -errno;
		}
		err = etcd_spawn();
		if (!err)
			return 0;
		pr_err("etcd did not start (try %d): %s", i + 1,
		       strerror(-err));
		etcd_show_log();
		etcd_stop();
	}
	return err;
}

static int etcd_connect(struct berth_store **s)
{
	const char *endpoints[] = { etcd.url };

	return berth_store_open_etcd(s, endpoints, 1);
}

int store_fixture_open(struct berth_store **s)
{
	int err;

	*s = NULL;
	etcd_stop();
	err = etcd_start();
	if (err)
		return err;
	err = etcd_connect(s);
	if (err)
		etcd_stop();
	return err;
}

void store_fixture_close(struct berth_store *s)
{
	berth_store_close(s);
	etcd_stop();
}

int store_fixture_restart(struct berth_store **s)
{
	berth_store_close(*s);
	*s = NULL;
	return etcd_connect(s);
}

void store_fixture_suspend(struct berth_store *s)
{
	berth_store_close(s);
}

int store_fixture_reopen(struct berth_store **s)
{
	*s = NULL;
	return etcd_connect(s);
}
