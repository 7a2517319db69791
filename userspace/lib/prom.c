// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Prometheus metrics: the registry of prom.h and its text exposition. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <berth/prom.h>

/* open addressing over twice the children, so probes stay short */
#define SLOTS (2 * BERTH_PROM_MAX_CHILDREN)

struct berth_prom_child {
	const struct berth_prom_metric *metric; /* histograms: the bounds */
	uint64_t hash;
	const char *values[BERTH_PROM_MAX_LABELS]; /* into strs */
	/* counter/gauge: the value; histogram: the sum (double bits) */
	_Atomic uint64_t val;
	_Atomic uint64_t buckets[]; /* histogram: nbounds + 1 (+Inf) */
};

struct berth_prom_metric {
	struct berth_prom_metric *next;
	enum berth_prom_type type;
	char *name, *help;
	size_t nlabels;
	char *labels[BERTH_PROM_MAX_LABELS];
	double bounds[BERTH_PROM_MAX_BUCKETS];
	size_t nbounds;
	pthread_mutex_t lock; /* creating a child */
	_Atomic(struct berth_prom_child *) slots[SLOTS];
	/* creation order, for a stable rendering; n published last */
	struct berth_prom_child *order[BERTH_PROM_MAX_CHILDREN];
	_Atomic size_t n;
};

struct collector {
	struct collector *next;
	berth_prom_collect_fn fn;
	void *ctx;
};

struct berth_prom_registry {
	pthread_mutex_t lock; /* the lists; one render at a time */
	struct berth_prom_metric *metrics, **mtail;
	struct collector *collectors, **ctail;
};

static uint64_t dbits(double d)
{
	uint64_t u;

	memcpy(&u, &d, sizeof(u));
	return u;
}

static double bitsd(uint64_t u)
{
	double d;

	memcpy(&d, &u, sizeof(d));
	return d;
}

static void atomic_add_double(_Atomic uint64_t *p, double v)
{
	uint64_t old = atomic_load_explicit(p, memory_order_relaxed);

	while (!atomic_compare_exchange_weak_explicit(
		p, &old, dbits(bitsd(old) + v), memory_order_relaxed,
		memory_order_relaxed))
		;
}

double berth_prom_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

struct berth_prom_registry *berth_prom_registry_new(void)
{
	struct berth_prom_registry *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	pthread_mutex_init(&r->lock, NULL);
	r->mtail = &r->metrics;
	r->ctail = &r->collectors;
	return r;
}

static void metric_free(struct berth_prom_metric *m)
{
	size_t i, n = atomic_load(&m->n);

	for (i = 0; i < n; i++)
		free(m->order[i]);
	for (i = 0; i < m->nlabels; i++)
		free(m->labels[i]);
	free(m->name);
	free(m->help);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

void berth_prom_registry_free(struct berth_prom_registry *r)
{
	struct berth_prom_metric *m;
	struct collector *c;

	if (!r)
		return;
	while ((m = r->metrics)) {
		r->metrics = m->next;
		metric_free(m);
	}
	while ((c = r->collectors)) {
		r->collectors = c->next;
		free(c);
	}
	pthread_mutex_destroy(&r->lock);
	free(r);
}

static bool valid_name(const char *s, bool colon)
{
	if (!s || !*s || isdigit((unsigned char)*s))
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' &&
		    !(colon && *s == ':'))
			return false;
	return true;
}

static struct berth_prom_metric *metric_new(struct berth_prom_registry *r,
					    enum berth_prom_type type,
					    const char *name, const char *help,
					    const char *const *labels)
{
	struct berth_prom_metric *m;
	size_t i;

	if (!r || !valid_name(name, true))
		return NULL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	pthread_mutex_init(&m->lock, NULL);
	m->type = type;
	m->name = strdup(name);
	m->help = strdup(help ? help : "");
	for (i = 0; labels && labels[i]; i++) {
		/* "le" is the histogram's own label */
		if (i == BERTH_PROM_MAX_LABELS ||
		    !valid_name(labels[i], false) ||
		    (type == BERTH_PROM_HISTOGRAM && !strcmp(labels[i], "le")))
			goto fail;
		m->labels[i] = strdup(labels[i]);
		m->nlabels = i + 1;
		if (!m->labels[i])
			goto fail;
	}
	if (!m->name || !m->help)
		goto fail;
	return m;
fail:
	metric_free(m);
	return NULL;
}

static struct berth_prom_metric *add_metric(struct berth_prom_registry *r,
					    struct berth_prom_metric *m)
{
	if (!m)
		return NULL;
	pthread_mutex_lock(&r->lock);
	*r->mtail = m;
	r->mtail = &m->next;
	pthread_mutex_unlock(&r->lock);
	return m;
}

struct berth_prom_metric *berth_prom_counter(struct berth_prom_registry *r,
					     const char *name, const char *help,
					     const char *const *labels)
{
	return add_metric(r, metric_new(r, BERTH_PROM_COUNTER, name, help,
					labels));
}

struct berth_prom_metric *berth_prom_gauge(struct berth_prom_registry *r,
					   const char *name, const char *help,
					   const char *const *labels)
{
	return add_metric(r,
			  metric_new(r, BERTH_PROM_GAUGE, name, help, labels));
}

struct berth_prom_metric *
berth_prom_histogram(struct berth_prom_registry *r, const char *name,
		     const char *help, const char *const *labels,
		     const double *bounds, size_t nbounds)
{
	struct berth_prom_metric *m;
	size_t i;

	if (nbounds > BERTH_PROM_MAX_BUCKETS)
		return NULL;
	for (i = 1; i < nbounds; i++)
		if (!(bounds[i] > bounds[i - 1]))
			return NULL;
	m = metric_new(r, BERTH_PROM_HISTOGRAM, name, help, labels);
	if (!m)
		return NULL;
	memcpy(m->bounds, bounds, nbounds * sizeof(*bounds));
	m->nbounds = nbounds;
	return add_metric(r, m);
}

int berth_prom_collector(struct berth_prom_registry *r,
			 berth_prom_collect_fn fn, void *ctx)
{
	struct collector *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->fn = fn;
	c->ctx = ctx;
	pthread_mutex_lock(&r->lock);
	*r->ctail = c;
	r->ctail = &c->next;
	pthread_mutex_unlock(&r->lock);
	return 0;
}

/* FNV-1a over the values, each ended by a byte no label value holds */
static uint64_t hash_values(const struct berth_prom_metric *m,
			    const char *const *values)
{
	uint64_t h = 0xcbf29ce484222325ull;
	const char *s;
	size_t i;

	for (i = 0; i < m->nlabels; i++) {
		for (s = values && values[i] ? values[i] : ""; *s; s++)
			h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
		h = (h ^ 0xff) * 0x100000001b3ull;
	}
	return h;
}

static bool same_values(const struct berth_prom_metric *m,
			const struct berth_prom_child *c, uint64_t h,
			const char *const *values)
{
	size_t i;

	if (c->hash != h)
		return false;
	for (i = 0; i < m->nlabels; i++)
		if (strcmp(c->values[i], values && values[i] ? values[i] : ""))
			return false;
	return true;
}

static struct berth_prom_child *child_new(const struct berth_prom_metric *m,
					  uint64_t h, const char *const *values)
{
	size_t nb = m->type == BERTH_PROM_HISTOGRAM ? m->nbounds + 1 : 0;
	size_t i, len = 0,
		  head = sizeof(struct berth_prom_child) +
			 nb * sizeof(_Atomic uint64_t);
	struct berth_prom_child *c;
	char *p;

	for (i = 0; i < m->nlabels; i++)
		len += strlen(values && values[i] ? values[i] : "") + 1;
	c = calloc(1, head + len);
	if (!c)
		return NULL;
	c->metric = m;
	c->hash = h;
	p = (char *)c + head;
	for (i = 0; i < m->nlabels; i++) {
		const char *v = values && values[i] ? values[i] : "";

		c->values[i] = p;
		p = stpcpy(p, v) + 1;
	}
	return c;
}

/*
 * The child with these values, or NULL with *slot the empty slot where it
 * goes (SLOTS: the table is full). Lock-free: slots are only ever filled.
 */
static struct berth_prom_child *find(struct berth_prom_metric *m, uint64_t h,
				     const char *const *values, size_t *slot)
{
	struct berth_prom_child *c;
	size_t i;

	for (i = 0; i < SLOTS; i++) {
		*slot = (h + i) & (SLOTS - 1);
		c = atomic_load_explicit(&m->slots[*slot],
					 memory_order_acquire);
		if (!c)
			return NULL;
		if (same_values(m, c, h, values))
			return c;
	}
	*slot = SLOTS;
	return NULL;
}

struct berth_prom_child *berth_prom_child(struct berth_prom_metric *m,
					  const char *const *values)
{
	struct berth_prom_child *c;
	uint64_t h;
	size_t slot;

	if (!m)
		return NULL;
	h = hash_values(m, values);
	c = find(m, h, values, &slot);
	if (c)
		return c;
	pthread_mutex_lock(&m->lock);
	/* another thread may have made it meanwhile */
	c = find(m, h, values, &slot);
	if (c || slot == SLOTS || atomic_load(&m->n) == BERTH_PROM_MAX_CHILDREN)
		goto out;
	c = child_new(m, h, values);
	if (!c)
		goto out;
	m->order[atomic_load(&m->n)] = c;
	atomic_store_explicit(&m->slots[slot], c, memory_order_release);
	atomic_fetch_add_explicit(&m->n, 1, memory_order_release);
out:
	pthread_mutex_unlock(&m->lock);
	return c;
}

void berth_prom_add(struct berth_prom_child *c, double v)
{
	if (c)
		atomic_add_double(&c->val, v);
}

void berth_prom_set(struct berth_prom_child *c, double v)
{
	if (c)
		atomic_store_explicit(&c->val, dbits(v), memory_order_relaxed);
}

void berth_prom_observe(struct berth_prom_child *c, double v)
{
	const struct berth_prom_metric *m;
	size_t lo = 0, hi;

	if (!c || c->metric->type != BERTH_PROM_HISTOGRAM)
		return;
	m = c->metric;
	hi = m->nbounds;
	/* the first bound >= v (le is inclusive); nbounds is +Inf */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (v <= m->bounds[mid])
			hi = mid;
		else
			lo = mid + 1;
	}
	atomic_fetch_add_explicit(&c->buckets[lo], 1, memory_order_relaxed);
	atomic_add_double(&c->val, v);
}

/* Shortest of %.15g and %.17g that reads back as d; +Inf, -Inf, NaN. */
static void put_double(FILE *f, double d)
{
	char buf[40];

	if (isnan(d)) {
		fputs("NaN", f);
		return;
	}
	if (isinf(d)) {
		fputs(d > 0 ? "+Inf" : "-Inf", f);
		return;
	}
	snprintf(buf, sizeof(buf), "%.15g", d);
	if (strtod(buf, NULL) != d)
		snprintf(buf, sizeof(buf), "%.17g", d);
	fputs(buf, f);
}

/* HELP escapes \ and newline; label values also the double quote. */
static void put_escaped(FILE *f, const char *s, bool quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else if (quote && *s == '"')
			fputs("\\\"", f);
		else
			fputc(*s, f);
	}
}

/* {a="x",b="y"} plus le for a bucket (le NULL: none); nothing if empty. */
static void put_labels(FILE *f, const struct berth_prom_metric *m,
		       const struct berth_prom_child *c, const double *le,
		       bool inf)
{
	size_t i;

	if (!m->nlabels && !le && !inf)
		return;
	fputc('{', f);
	for (i = 0; i < m->nlabels; i++) {
		fprintf(f, "%s%s=\"", i ? "," : "", m->labels[i]);
		put_escaped(f, c->values[i], true);
		fputc('"', f);
	}
	if (le || inf) {
		fprintf(f, "%sle=\"", m->nlabels ? "," : "");
		put_double(f, inf ? INFINITY : *le);
		fputc('"', f);
	}
	fputc('}', f);
}

static void render_histogram(FILE *f, const struct berth_prom_metric *m,
			     const struct berth_prom_child *c)
{
	uint64_t cum = 0;
	size_t i;

	/* cumulative buckets; count is the +Inf bucket, so they agree */
	for (i = 0; i <= m->nbounds; i++) {
		cum += atomic_load_explicit(&c->buckets[i],
					    memory_order_relaxed);
		fprintf(f, "%s_bucket", m->name);
		put_labels(f, m, c, i < m->nbounds ? &m->bounds[i] : NULL,
			   i == m->nbounds);
		fprintf(f, " %llu\n", (unsigned long long)cum);
	}
	fprintf(f, "%s_sum", m->name);
	put_labels(f, m, c, NULL, false);
	fputc(' ', f);
	put_double(f, bitsd(atomic_load(&c->val)));
	fprintf(f, "\n%s_count", m->name);
	put_labels(f, m, c, NULL, false);
	fprintf(f, " %llu\n", (unsigned long long)cum);
}

static void render_metric(FILE *f, const struct berth_prom_metric *m)
{
	static const char *const types[] = { "counter", "gauge", "histogram" };
	size_t i, n = atomic_load_explicit(&m->n, memory_order_acquire);

	fprintf(f, "# HELP %s ", m->name);
	put_escaped(f, m->help, false);
	fprintf(f, "\n# TYPE %s %s\n", m->name, types[m->type]);
	for (i = 0; i < n; i++) {
		const struct berth_prom_child *c = m->order[i];

		if (m->type == BERTH_PROM_HISTOGRAM) {
			render_histogram(f, m, c);
			continue;
		}
		fputs(m->name, f);
		put_labels(f, m, c, NULL, false);
		fputc(' ', f);
		put_double(f, bitsd(atomic_load(&c->val)));
		fputc('\n', f);
	}
}

int berth_prom_render(struct berth_prom_registry *r, FILE *f)
{
	struct berth_prom_metric *m;
	struct collector *c;

	pthread_mutex_lock(&r->lock);
	for (c = r->collectors; c; c = c->next)
		c->fn(c->ctx);
	for (m = r->metrics; m; m = m->next)
		render_metric(f, m);
	pthread_mutex_unlock(&r->lock);
	return ferror(f) ? -EIO : 0;
}

int berth_prom_render_buf(struct berth_prom_registry *r, char **out,
			  size_t *len)
{
	FILE *f = open_memstream(out, len);
	int err;

	if (!f)
		return -errno;
	err = berth_prom_render(r, f);
	if (fclose(f) && !err)
		err = -EIO;
	if (err) {
		free(*out);
		*out = NULL;
	}
	return err;
}

struct proc_metrics {
	struct berth_prom_child *rss, *vsize, *fds, *max_fds, *cpu, *start;
};

/*
 * /proc/self/stat from the state field on (the command before it may hold
 * spaces and ')'): utime 14, stime 15, starttime 22, vsize 23, rss 24.
 */
static int read_stat(double *cpu_s, double *start_ticks, double *vsize,
		     double *rss_pages)
{
	unsigned long long ut, st, start, vs;
	long long rss;
	char buf[1024], *p;
	FILE *f = fopen("/proc/self/stat", "r");
	size_t n;

	if (!f)
		return -errno;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	p = strrchr(buf, ')');
	if (!p ||
	    sscanf(p + 2,
		   "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu "
		   "%*d %*d %*d %*d %*d %*d %llu %llu %lld",
		   &ut, &st, &start, &vs, &rss) != 5)
		return -EINVAL;
	*cpu_s = (double)(ut + st) / sysconf(_SC_CLK_TCK);
	*start_ticks = (double)start;
	*vsize = (double)vs;
	*rss_pages = (double)rss;
	return 0;
}

/* btime of /proc/stat: the boot time, in s since the epoch */
static double boot_time(void)
{
	char line[256];
	double bt = 0;
	FILE *f = fopen("/proc/stat", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "btime %lf", &bt) == 1)
			break;
	fclose(f);
	return bt;
}

static double open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	double n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own descriptor */
}

static void collect_process(void *ctx)
{
	struct proc_metrics *pm = ctx;
	double cpu, start, vsize, rss;
	struct rlimit rl;

	if (!read_stat(&cpu, &start, &vsize, &rss)) {
		berth_prom_set(pm->cpu, cpu);
		berth_prom_set(pm->vsize, vsize);
		berth_prom_set(pm->rss, rss * sysconf(_SC_PAGESIZE));
		berth_prom_set(pm->start,
			       boot_time() + start / sysconf(_SC_CLK_TCK));
	}
	berth_prom_set(pm->fds, open_fds());
	if (!getrlimit(RLIMIT_NOFILE, &rl))
		berth_prom_set(pm->max_fds, rl.rlim_cur == RLIM_INFINITY ?
						    INFINITY :
						    (double)rl.rlim_cur);
}

/* A metric without labels and its only child. */
static struct berth_prom_child *plain(struct berth_prom_registry *r,
				      enum berth_prom_type t, const char *name,
				      const char *help)
{
	return berth_prom_child(t == BERTH_PROM_COUNTER ?
					berth_prom_counter(r, name, help,
							   NULL) :
					berth_prom_gauge(r, name, help, NULL),
				NULL);
}

int berth_prom_process_metrics(struct berth_prom_registry *r)
{
	/* lives as long as the process: its metrics are what it reports */
	static struct proc_metrics pm;

	pm.cpu = plain(r, BERTH_PROM_COUNTER, "process_cpu_seconds_total",
		       "Total user and system CPU time spent in seconds.");
	pm.fds = plain(r, BERTH_PROM_GAUGE, "process_open_fds",
		       "Number of open file descriptors.");
	pm.max_fds = plain(r, BERTH_PROM_GAUGE, "process_max_fds",
			   "Maximum number of open file descriptors.");
	pm.vsize = plain(r, BERTH_PROM_GAUGE, "process_virtual_memory_bytes",
			 "Virtual memory size in bytes.");
	pm.rss = plain(r, BERTH_PROM_GAUGE, "process_resident_memory_bytes",
		       "Resident memory size in bytes.");
	pm.start =
		plain(r, BERTH_PROM_GAUGE, "process_start_time_seconds",
		      "Start time of the process since unix epoch in seconds.");
	if (!pm.cpu || !pm.fds || !pm.max_fds || !pm.vsize || !pm.rss ||
	    !pm.start)
		return -ENOMEM;
	return berth_prom_collector(r, collect_process, &pm);
}
