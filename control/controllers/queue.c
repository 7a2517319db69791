// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Work queues of object keys, with client-go's workqueue guarantees: a key
 * is queued at most once, never processed by two workers at once, and one
 * added while it is processed runs again after. Delayed adds wait in a list
 * sorted by due time; failures back off per key.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "strmap.h"

#define BACKOFF_BASE_MS 5
#define BACKOFF_MAX_MS 60000

/* One key the queue knows: queued, processing, waiting or backing off. */
struct qkey {
	struct qkey *next; /* FIFO link while queued */
	bool queued, processing, dirty; /* dirty: re-add after done */
	int failures;
	int64_t due_ms; /* delayed add pending until then, 0: none */
	char key[];
};

struct berth_queue {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct berth_strmap keys; /* key -> struct qkey */
	struct qkey *head, *tail;
	size_t len;
	size_t ndelayed; /* keys with due_ms set */
	int64_t next_due; /* no delayed key is due before this */
	bool shutdown;
	char name[64];
};

int64_t berth_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct berth_queue *berth_queue_new(const char *name)
{
	struct berth_queue *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	pthread_mutex_init(&q->lock, NULL);
	berth_cond_init_monotonic(&q->cond);
	strncpy(q->name, name, sizeof(q->name) - 1);
	return q;
}

void berth_queue_free(struct berth_queue *q)
{
	struct berth_strmap_ent *e = NULL;
	size_t i;

	if (!q)
		return;
	while ((e = berth_strmap_next(&q->keys, &i, e)))
		free(e->val);
	berth_strmap_free(&q->keys);
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->cond);
	free(q);
}

static struct qkey *lookup(struct berth_queue *q, const char *key, bool make)
{
	struct qkey *k = berth_strmap_get(&q->keys, key);
	size_t len;

	if (k || !make)
		return k;
	len = strlen(key);
	k = calloc(1, sizeof(*k) + len + 1);
	if (!k)
		return NULL;
	memcpy(k->key, key, len + 1);
	berth_strmap_put(&q->keys, key, k);
	return k;
}

/* Drop a key that is neither queued, processing, waiting nor backing off. */
static void maybe_forget(struct berth_queue *q, struct qkey *k)
{
	if (k->queued || k->processing || k->due_ms || k->failures)
		return;
	berth_strmap_del(&q->keys, k->key);
	free(k);
}

static void enqueue(struct berth_queue *q, struct qkey *k)
{
	if (k->processing) {
		k->dirty = true;
		return;
	}
	if (k->queued)
		return;
	k->queued = true;
	k->next = NULL;
	if (q->tail)
		q->tail->next = k;
	else
		q->head = k;
	q->tail = k;
	q->len++;
	pthread_cond_signal(&q->cond);
}

void berth_queue_add(struct berth_queue *q, const char *key)
{
	struct qkey *k;

	pthread_mutex_lock(&q->lock);
	if (!q->shutdown && (k = lookup(q, key, true)))
		enqueue(q, k);
	pthread_mutex_unlock(&q->lock);
}

void berth_queue_add_after(struct berth_queue *q, const char *key,
			   int delay_ms)
{
	struct qkey *k;
	int64_t due;

	if (delay_ms <= 0) {
		berth_queue_add(q, key);
		return;
	}
	due = berth_now_ms() + delay_ms;
	pthread_mutex_lock(&q->lock);
	if (!q->shutdown && (k = lookup(q, key, true))) {
		/* the earliest of two pending delays wins */
		if (!k->due_ms)
			q->ndelayed++;
		if (!k->due_ms || due < k->due_ms)
			k->due_ms = due;
		if (!q->next_due || due < q->next_due)
			q->next_due = due;
		pthread_cond_broadcast(&q->cond);
	}
	pthread_mutex_unlock(&q->lock);
}

void berth_queue_add_rate_limited(struct berth_queue *q, const char *key)
{
	struct qkey *k;
	int64_t delay = BACKOFF_BASE_MS;
	int f;

	pthread_mutex_lock(&q->lock);
	k = q->shutdown ? NULL : lookup(q, key, true);
	if (k) {
		f = k->failures++;
		while (f-- > 0 && delay < BACKOFF_MAX_MS)
			delay *= 2;
		if (delay > BACKOFF_MAX_MS)
			delay = BACKOFF_MAX_MS;
	}
	pthread_mutex_unlock(&q->lock);
	if (k)
		berth_queue_add_after(q, key, (int)delay);
}

void berth_queue_forget(struct berth_queue *q, const char *key)
{
	struct qkey *k;

	pthread_mutex_lock(&q->lock);
	k = lookup(q, key, false);
	if (k) {
		k->failures = 0;
		maybe_forget(q, k);
	}
	pthread_mutex_unlock(&q->lock);
}

/*
 * Move due delayed keys to the FIFO; returns the earliest due time still
 * pending (0: none). A walk of all keys, but only when one is due.
 */
static int64_t promote_due(struct berth_queue *q, int64_t now)
{
	struct berth_strmap_ent *e = NULL;
	int64_t next = 0;
	size_t i;

	if (!q->ndelayed)
		return 0;
	if (now < q->next_due)
		return q->next_due;
	while ((e = berth_strmap_next(&q->keys, &i, e))) {
		struct qkey *k = e->val;

		if (!k->due_ms)
			continue;
		if (k->due_ms <= now) {
			k->due_ms = 0;
			q->ndelayed--;
			enqueue(q, k);
		} else if (!next || k->due_ms < next) {
			next = k->due_ms;
		}
	}
	q->next_due = next;
	return next;
}

char *berth_queue_get(struct berth_queue *q)
{
	struct qkey *k;
	char *key = NULL;

	pthread_mutex_lock(&q->lock);
	while (!q->shutdown) {
		int64_t now = berth_now_ms(), next;

		next = promote_due(q, now);
		if (q->head) {
			k = q->head;
			q->head = k->next;
			if (!q->head)
				q->tail = NULL;
			q->len--;
			k->queued = false;
			k->processing = true;
			key = strdup(k->key);
			break;
		}
		if (next) {
			struct timespec ts;

			berth_deadline(&ts, next - now);
			pthread_cond_timedwait(&q->cond, &q->lock, &ts);
		} else {
			pthread_cond_wait(&q->cond, &q->lock);
		}
	}
	pthread_mutex_unlock(&q->lock);
	return key;
}

void berth_queue_done(struct berth_queue *q, const char *key)
{
	struct qkey *k;

	pthread_mutex_lock(&q->lock);
	k = lookup(q, key, false);
	if (k) {
		k->processing = false;
		if (k->dirty) {
			k->dirty = false;
			enqueue(q, k);
		}
		maybe_forget(q, k);
	}
	pthread_mutex_unlock(&q->lock);
}

void berth_queue_shutdown(struct berth_queue *q)
{
	pthread_mutex_lock(&q->lock);
	q->shutdown = true;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
}

size_t berth_queue_len(struct berth_queue *q)
{
	size_t n;

	pthread_mutex_lock(&q->lock);
	n = q->len;
	pthread_mutex_unlock(&q->lock);
	return n;
}
