// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The Prometheus registry (prom.c): exposition text, buckets, limits. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include <berth/prom.h>

static char *render(struct berth_prom_registry *r)
{
	char *buf = NULL;
	size_t len = 0;

	cr_assert_eq(berth_prom_render_buf(r, &buf, &len), 0, "render");
	cr_assert_eq(strlen(buf), len, "length");
	return buf;
}

Test(prom, counter_text_and_escaping)
{
	struct berth_prom_registry *r = berth_prom_registry_new();
	const char *const labels[] = { "path", "code", NULL };
	struct berth_prom_metric *m = berth_prom_counter(
		r, "t_requests_total", "a \\ help\nline", labels);
	const char *v[] = { "a\"b\\c\nd", "200" };
	char *out;

	cr_assert_not_null(m);
	berth_prom_inc(berth_prom_child(m, v));
	berth_prom_add(berth_prom_child(m, v), 2.5);
	out = render(r);
	cr_assert(strstr(out, "# HELP t_requests_total a \\\\ help\\nline\n"),
		  "%s", out);
	cr_assert(strstr(out, "# TYPE t_requests_total counter\n"), "%s", out);
	cr_assert(strstr(out, "t_requests_total{path=\"a\\\"b\\\\c\\nd\","
			      "code=\"200\"} 3.5\n"),
		  "%s", out);
	free(out);
	berth_prom_registry_free(r);
}

Test(prom, histogram_cumulative_buckets)
{
	struct berth_prom_registry *r = berth_prom_registry_new();
	const double b[] = { 0.1, 1, 10 };
	struct berth_prom_metric *m =
		berth_prom_histogram(r, "t_seconds", "h", NULL, b, 3);
	struct berth_prom_child *c = berth_prom_child(m, NULL);
	char *out;

	berth_prom_observe(c, 0.05);
	berth_prom_observe(c, 0.1); /* le is inclusive */
	berth_prom_observe(c, 5);
	berth_prom_observe(c, 100);
	out = render(r);
	cr_assert(strstr(out, "t_seconds_bucket{le=\"0.1\"} 2\n"), "%s", out);
	cr_assert(strstr(out, "t_seconds_bucket{le=\"1\"} 2\n"), "%s", out);
	cr_assert(strstr(out, "t_seconds_bucket{le=\"10\"} 3\n"), "%s", out);
	cr_assert(strstr(out, "t_seconds_bucket{le=\"+Inf\"} 4\n"), "%s", out);
	cr_assert(strstr(out, "t_seconds_sum 105.15\n"), "%s", out);
	cr_assert(strstr(out, "t_seconds_count 4\n"), "%s", out);
	free(out);
	berth_prom_registry_free(r);
}

Test(prom, rejects_bad_definitions)
{
	struct berth_prom_registry *r = berth_prom_registry_new();
	const char *const le[] = { "le", NULL };
	const char *const bad[] = { "a-b", NULL };
	const double down[] = { 1, 0.5 };

	cr_assert_null(berth_prom_counter(r, "9x", "", NULL), "name digit");
	cr_assert_null(berth_prom_counter(r, "a b", "", NULL), "name space");
	cr_assert_null(berth_prom_gauge(r, "g", "", bad), "label name");
	cr_assert_null(berth_prom_histogram(r, "h", "", le, down, 0), "le");
	cr_assert_null(berth_prom_histogram(r, "h", "", NULL, down, 2),
		       "bounds not increasing");
	/* a NULL child (no metric) is ignored by the updates */
	berth_prom_inc(berth_prom_child(NULL, NULL));
	berth_prom_registry_free(r);
}

Test(prom, label_sets_are_bounded)
{
	struct berth_prom_registry *r = berth_prom_registry_new();
	const char *const labels[] = { "k", NULL };
	struct berth_prom_metric *m = berth_prom_gauge(r, "g", "", labels);
	char val[16];
	const char *v[] = { val };
	int i, made = 0;

	for (i = 0; i < BERTH_PROM_MAX_CHILDREN + 10; i++) {
		snprintf(val, sizeof(val), "v%d", i);
		made += berth_prom_child(m, v) != NULL;
	}
	cr_assert_eq(made, BERTH_PROM_MAX_CHILDREN);
	snprintf(val, sizeof(val), "v7");
	cr_assert_not_null(berth_prom_child(m, v), "old sets stay reachable");
	berth_prom_registry_free(r);
}

static struct berth_prom_metric *race_metric;

static void *race(void *arg)
{
	const char *v[] = { arg };
	int i;

	for (i = 0; i < 100000; i++)
		berth_prom_inc(berth_prom_child(race_metric, v));
	return NULL;
}

Test(prom, concurrent_increments_add_up)
{
	struct berth_prom_registry *r = berth_prom_registry_new();
	const char *const labels[] = { "k", NULL };
	pthread_t th[4];
	char *out;
	int i;

	race_metric = berth_prom_counter(r, "c_total", "", labels);
	for (i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, race, i % 2 ? "odd" : "even");
	for (i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	out = render(r);
	cr_assert(strstr(out, "c_total{k=\"even\"} 200000\n"), "%s", out);
	cr_assert(strstr(out, "c_total{k=\"odd\"} 200000\n"), "%s", out);
	free(out);
	berth_prom_registry_free(r);
}

Test(prom, process_metrics)
{
	struct berth_prom_registry *r = berth_prom_registry_new();
	char *out, *p;

	cr_assert_eq(berth_prom_process_metrics(r), 0);
	out = render(r);
	p = strstr(out, "\nprocess_resident_memory_bytes ");
	cr_assert(p && strtod(p + 31, NULL) > 0, "%s", out);
	p = strstr(out, "\nprocess_open_fds ");
	cr_assert(p && strtod(p + 18, NULL) >= 3, "%s", out);
	free(out);
	berth_prom_registry_free(r);
}
