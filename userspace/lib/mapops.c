// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * struct berth_map over a BPF map fd, or over memory with the semantics of
 * BPF_MAP_TYPE_HASH so the map sync can be tested without privileges.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include <berth/htab.h>
#include <berth/log.h>
#include <berth/mapops.h>

/* BPF maps */

static int fd_lookup(struct berth_map *m, const void *key, void *value)
{
	return bpf_map_lookup_elem(m->fd, key, value) ? -errno : 0;
}

static int fd_update(struct berth_map *m, const void *key, const void *value)
{
	if (bpf_map_update_elem(m->fd, key, value, BPF_ANY))
		return -errno;
	m->writes++;
	return 0;
}

static int fd_delete(struct berth_map *m, const void *key)
{
	if (bpf_map_delete_elem(m->fd, key))
		return -errno;
	m->writes++;
	return 0;
}

static int fd_next_key(struct berth_map *m, const void *key, void *next)
{
	return bpf_map_get_next_key(m->fd, key, next) ? -errno : 0;
}

void berth_map_init_fd(struct berth_map *m, const char *name, int fd)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info);

	*m = (struct berth_map){ .name = name,
				 .fd = fd,
				 .lookup = fd_lookup,
				 .update = fd_update,
				 .delete = fd_delete,
				 .next_key = fd_next_key };
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		/* Sizes stay 0: callers that need them fail their checks. */
		pr_warn("map %s: get info of fd %d: -%d", name, fd, errno);
		return;
	}
	m->key_size = info.key_size;
	m->value_size = info.value_size;
	m->max_entries = info.max_entries;
}

/*
 * Memory maps: chained hashing like the kernel's htab, so iteration walks
 * buckets in order and a key's successor is the next node in its bucket or
 * the head of the next non-empty bucket. Deleting the current key after
 * fetching its successor (the usual dump-and-delete loop) skips nothing.
 * Nodes live in one array and are linked by index, so growing never
 * invalidates a chain.
 */
struct mem_node {
	uint32_t next; /* index + 1 of the next node in the bucket, 0 ends */
	uint32_t hash;
	/* key, then value, follow */
};

struct mem_map {
	uint32_t *buckets; /* index + 1 of the first node, 0 = empty */
	size_t nbuckets; /* a power of two */
	unsigned char *nodes;
	size_t node_size;
	size_t nnodes; /* nodes ever handed out */
	size_t cap;
	uint32_t free_list; /* index + 1 of a free node */
	size_t count;
};

#define MEM_SEED 0x6265727468ULL /* "berth" */

static inline struct mem_node *node(struct mem_map *mm, uint32_t idx)
{
	return (struct mem_node *)(mm->nodes + (size_t)idx * mm->node_size);
}

static inline void *node_key(struct mem_node *n)
{
	return n + 1;
}

static inline void *node_val(struct berth_map *m, struct mem_node *n)
{
	return (unsigned char *)(n + 1) + m->key_size;
}

static uint32_t mem_hash(struct berth_map *m, const void *key)
{
	return (uint32_t)berth_hash_bytes(key, m->key_size, MEM_SEED);
}

/* Index + 1 of the node holding key, 0 if none; *prev gets its predecessor. */
static uint32_t mem_find(struct berth_map *m, const void *key, uint32_t hash,
			 uint32_t *prev)
{
	struct mem_map *mm = m->priv;
	uint32_t i = mm->buckets[hash & (mm->nbuckets - 1)], p = 0;
	struct mem_node *n;

	for (; i; p = i, i = n->next) {
		n = node(mm, i - 1);
		if (n->hash == hash && !memcmp(node_key(n), key, m->key_size))
			break;
	}
	if (prev)
		*prev = p;
	return i;
}

static int mem_lookup(struct berth_map *m, const void *key, void *value)
{
	uint32_t i = mem_find(m, key, mem_hash(m, key), NULL);

	if (!i)
		return -ENOENT;
	memcpy(value, node_val(m, node(m->priv, i - 1)), m->value_size);
	return 0;
}

static int mem_grow_buckets(struct mem_map *mm)
{
	size_t nb = mm->nbuckets * 2, b;
	uint32_t *nbk = calloc(nb, sizeof(*nbk)), i, next;
	struct mem_node *n;

	if (!nbk)
		return -ENOMEM;
	for (b = 0; b < mm->nbuckets; b++) {
		for (i = mm->buckets[b]; i; i = next) {
			n = node(mm, i - 1);
			next = n->next;
			n->next = nbk[n->hash & (nb - 1)];
			nbk[n->hash & (nb - 1)] = i;
		}
	}
	free(mm->buckets);
	mm->buckets = nbk;
	mm->nbuckets = nb;
	return 0;
}

static int mem_alloc_node(struct mem_map *mm, uint32_t *idx)
{
	unsigned char *p;
	size_t cap;

	if (mm->free_list) {
		*idx = mm->free_list - 1;
		mm->free_list = node(mm, *idx)->next;
		return 0;
	}
	if (mm->nnodes == mm->cap) {
		cap = mm->cap ? mm->cap * 2 : 64;
		p = realloc(mm->nodes, cap * mm->node_size);
		if (!p)
			return -ENOMEM;
		mm->nodes = p;
		mm->cap = cap;
	}
	*idx = (uint32_t)mm->nnodes++;
	return 0;
}

static int mem_update(struct berth_map *m, const void *key, const void *value)
{
	struct mem_map *mm = m->priv;
	uint32_t hash = mem_hash(m, key), i = mem_find(m, key, hash, NULL);
	uint32_t *head;
	struct mem_node *n;
	int err;

	if (i) {
		memcpy(node_val(m, node(mm, i - 1)), value, m->value_size);
		m->writes++;
		return 0;
	}
	if (mm->count >= m->max_entries)
		return -E2BIG;
	if (mm->count >= mm->nbuckets) {
		err = mem_grow_buckets(mm);
		if (err)
			return err;
	}
	err = mem_alloc_node(mm, &i);
	if (err)
		return err;
	n = node(mm, i);
	n->hash = hash;
	memcpy(node_key(n), key, m->key_size);
	memcpy(node_val(m, n), value, m->value_size);
	/* New nodes go to the head of their bucket, as in the kernel. */
	head = &mm->buckets[hash & (mm->nbuckets - 1)];
	n->next = *head;
	*head = i + 1;
	mm->count++;
	m->writes++;
	return 0;
}

static int mem_delete(struct berth_map *m, const void *key)
{
	struct mem_map *mm = m->priv;
	uint32_t hash = mem_hash(m, key), prev, i;
	struct mem_node *n;

	i = mem_find(m, key, hash, &prev);
	if (!i)
		return -ENOENT;
	n = node(mm, i - 1);
	if (prev)
		node(mm, prev - 1)->next = n->next;
	else
		mm->buckets[hash & (mm->nbuckets - 1)] = n->next;
	n->next = mm->free_list;
	mm->free_list = i;
	mm->count--;
	m->writes++;
	return 0;
}

static int mem_first_from(struct berth_map *m, size_t bucket, void *next)
{
	struct mem_map *mm = m->priv;

	for (; bucket < mm->nbuckets; bucket++) {
		if (mm->buckets[bucket]) {
			memcpy(next,
			       node_key(node(mm, mm->buckets[bucket] - 1)),
			       m->key_size);
			return 0;
		}
	}
	return -ENOENT;
}

static int mem_next_key(struct berth_map *m, const void *key, void *next)
{
	struct mem_map *mm = m->priv;
	uint32_t hash, i;
	struct mem_node *n;

	if (!key)
		return mem_first_from(m, 0, next);
	hash = mem_hash(m, key);
	i = mem_find(m, key, hash, NULL);
	/* A key that vanished restarts the walk, like the kernel does. */
	if (!i)
		return mem_first_from(m, 0, next);
	n = node(mm, i - 1);
	if (n->next) {
		memcpy(next, node_key(node(mm, n->next - 1)), m->key_size);
		return 0;
	}
	return mem_first_from(m, (hash & (mm->nbuckets - 1)) + 1, next);
}

int berth_map_init_mem(struct berth_map *m, const char *name, uint32_t key_size,
		       uint32_t value_size, uint32_t max_entries)
{
	struct mem_map *mm;

	*m = (struct berth_map){ .name = name,
				 .fd = -1,
				 .key_size = key_size,
				 .value_size = value_size,
				 .max_entries = max_entries,
				 .lookup = mem_lookup,
				 .update = mem_update,
				 .delete = mem_delete,
				 .next_key = mem_next_key };
	if (!key_size || !value_size || !max_entries)
		return -EINVAL;
	mm = calloc(1, sizeof(*mm));
	if (!mm)
		return -ENOMEM;
	mm->nbuckets = 64;
	mm->buckets = calloc(mm->nbuckets, sizeof(*mm->buckets));
	if (!mm->buckets) {
		free(mm);
		return -ENOMEM;
	}
	/* Keep every node 8-byte aligned: keys and values hold __u64s. */
	mm->node_size = (sizeof(struct mem_node) + key_size + value_size + 7) &
			~(size_t)7;
	m->priv = mm;
	return 0;
}

void berth_map_free_mem(struct berth_map *m)
{
	struct mem_map *mm = m->priv;

	if (!mm)
		return;
	free(mm->buckets);
	free(mm->nodes);
	free(mm);
	m->priv = NULL;
}
