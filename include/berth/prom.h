/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A small Prometheus registry shared by berth-server and berth-agent:
 * counters, gauges and fixed-bucket histograms with label sets, rendered in
 * the text exposition format 0.0.4.
 *
 * Updates are lock-free (atomics on the values, a label set's slot is
 * published once with a CAS); only creating a new label set takes the
 * metric's mutex. Label sets are never removed, and a metric holds at most
 * BERTH_PROM_MAX_CHILDREN of them: past that berth_prom_child() returns
 * NULL, and the update helpers ignore a NULL child, so a label made of
 * client input cannot grow memory without bound.
 */
#ifndef BERTH_PROM_H
#define BERTH_PROM_H

#include <stddef.h>
#include <stdio.h>

#define BERTH_PROM_MAX_LABELS 6
#define BERTH_PROM_MAX_CHILDREN 1024 /* label sets per metric */
#define BERTH_PROM_MAX_BUCKETS 32
#define BERTH_PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

enum berth_prom_type {
	BERTH_PROM_COUNTER,
	BERTH_PROM_GAUGE,
	BERTH_PROM_HISTOGRAM,
};

struct berth_prom_registry;
struct berth_prom_metric;
struct berth_prom_child;

/* Called before each render: set gauges (and scrape-time counters) there. */
typedef void (*berth_prom_collect_fn)(void *ctx);

struct berth_prom_registry *berth_prom_registry_new(void);
void berth_prom_registry_free(struct berth_prom_registry *r);

/*
 * A new metric; labels: names, NULL-terminated (NULL: none). Histograms
 * take bounds in increasing order (the +Inf bucket is implicit). NULL on
 * a bad name, too many labels/buckets or no memory.
 */
struct berth_prom_metric *berth_prom_counter(struct berth_prom_registry *r,
					     const char *name, const char *help,
					     const char *const *labels);
struct berth_prom_metric *berth_prom_gauge(struct berth_prom_registry *r,
					   const char *name, const char *help,
					   const char *const *labels);
struct berth_prom_metric *
berth_prom_histogram(struct berth_prom_registry *r, const char *name,
		     const char *help, const char *const *labels,
		     const double *bounds, size_t nbounds);

/* Run fn(ctx) before each render, in registration order. 0 or -ENOMEM. */
int berth_prom_collector(struct berth_prom_registry *r,
			 berth_prom_collect_fn fn, void *ctx);

/*
 * The label set with these values (one per label name, NULL taken as ""),
 * made on first use. NULL when m is NULL or the metric is full.
 */
struct berth_prom_child *berth_prom_child(struct berth_prom_metric *m,
					  const char *const *values);

/* Counter: add v (>= 0). Gauge: add v (any sign). */
void berth_prom_add(struct berth_prom_child *c, double v);
static inline void berth_prom_inc(struct berth_prom_child *c)
{
	berth_prom_add(c, 1);
}
/* Gauge (or a counter read from elsewhere at scrape time): set to v. */
void berth_prom_set(struct berth_prom_child *c, double v);
/* Histogram: one observation of v. */
void berth_prom_observe(struct berth_prom_child *c, double v);

/* The whole registry in the text format to f. 0 or -EIO. */
int berth_prom_render(struct berth_prom_registry *r, FILE *f);
/* Same into a malloc'd NUL-terminated buffer (*len bytes). 0 or -errno. */
int berth_prom_render_buf(struct berth_prom_registry *r, char **out,
			  size_t *len);

/*
 * process_* metrics of the calling process, read from /proc at scrape time
 * (resident and virtual memory, open and max fds, cpu seconds, start time).
 */
int berth_prom_process_metrics(struct berth_prom_registry *r);

/* Monotonic clock in seconds, for durations. */
double berth_prom_now(void);

#endif
