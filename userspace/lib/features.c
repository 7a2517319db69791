// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Probe the kernel's BPF features: libbpf's probes and vmlinux BTF look-ups. */
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <bpf/libbpf_version.h>

#include <berth/features.h>
#include <berth/log.h>

static bool helper(enum bpf_prog_type type, enum bpf_func_id id)
{
	return libbpf_probe_bpf_helper(type, id, NULL) == 1;
}

/* Does enum enum_name in vmlinux BTF have a value called value? */
static bool btf_enum_has(const struct btf *btf, const char *enum_name,
			 const char *value)
{
	const struct btf_type *t;
	const struct btf_enum *e;
	__s32 id;

	if (!btf)
		return false;
	id = btf__find_by_name_kind(btf, enum_name, BTF_KIND_ENUM);
	if (id < 0)
		return false;
	t = btf__type_by_id(btf, id);
	e = btf_enum(t);
	for (__u16 i = 0; i < btf_vlen(t); i++, e++) {
		if (!strcmp(btf__name_by_offset(btf, e->name_off), value))
			return true;
	}
	return false;
}

/* veth's XDP: in vmlinux when built in, else in the veth module's BTF. */
static bool veth_has_xdp(const struct btf *vmlinux)
{
	struct btf *mod;
	bool found;

	if (vmlinux && btf__find_by_name_kind(vmlinux, "veth_xdp_xmit",
					      BTF_KIND_FUNC) >= 0)
		return true;
	if (access("/sys/kernel/btf/veth", R_OK))
		return false;
	mod = btf__parse_split("/sys/kernel/btf/veth", (struct btf *)vmlinux);
	if (!mod)
		return false;
	found = btf__find_by_name_kind(mod, "veth_xdp_xmit", BTF_KIND_FUNC) >=
		0;
	btf__free(mod);
	return found;
}

void berth_features_probe(struct berth_features *f)
{
	struct btf *btf = btf__load_vmlinux_btf();
	struct utsname u;

	memset(f, 0, sizeof(*f));
	if (!uname(&u))
		snprintf(f->kernel, sizeof(f->kernel), "%s", u.release);
	f->btf_vmlinux = btf != NULL;
	f->sched_cls =
		libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_SCHED_CLS, NULL) == 1;
	f->redirect_peer =
		helper(BPF_PROG_TYPE_SCHED_CLS, BPF_FUNC_redirect_peer);
	f->redirect_neigh =
		helper(BPF_PROG_TYPE_SCHED_CLS, BPF_FUNC_redirect_neigh);
	f->skb_change_tail =
		helper(BPF_PROG_TYPE_SCHED_CLS, BPF_FUNC_skb_change_tail);
	f->tcx = btf_enum_has(btf, "bpf_attach_type", "BPF_TCX_INGRESS");
	/* bpf_program__attach_tcx() came with libbpf 1.3 */
	f->tcx_libbpf =
		LIBBPF_MAJOR_VERSION > 1 ||
		(LIBBPF_MAJOR_VERSION == 1 && LIBBPF_MINOR_VERSION >= 3);
	f->xdp = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_XDP, NULL) == 1;
	f->xdp_veth = f->xdp && veth_has_xdp(btf);
	f->cgroup_sock_addr =
		libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
					   NULL) == 1;
	f->lru_hash = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_LRU_HASH, NULL) ==
		      1;
	f->lpm_trie = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_LPM_TRIE, NULL) ==
		      1;
	f->hash_of_maps =
		libbpf_probe_bpf_map_type(BPF_MAP_TYPE_HASH_OF_MAPS, NULL) == 1;
	f->percpu_hash =
		libbpf_probe_bpf_map_type(BPF_MAP_TYPE_PERCPU_HASH, NULL) == 1;
	f->ringbuf = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL) == 1;
	btf__free(btf);
}

#define FEATURES(X)         \
	X(btf_vmlinux)      \
	X(sched_cls)        \
	X(redirect_peer)    \
	X(redirect_neigh)   \
	X(skb_change_tail)  \
	X(tcx)              \
	X(tcx_libbpf)       \
	X(xdp)              \
	X(xdp_veth)         \
	X(cgroup_sock_addr) \
	X(lru_hash)         \
	X(lpm_trie)         \
	X(hash_of_maps)     \
	X(percpu_hash)      \
	X(ringbuf)

void berth_features_log(const struct berth_features *f)
{
	char line[1024];
	size_t n = 0;

#define LOG_ONE(name)                                                    \
	n += snprintf(line + n, n < sizeof(line) ? sizeof(line) - n : 0, \
		      "%s%s %s", n ? ", " : "", #name,                   \
		      f->name ? "yes" : "no");
	FEATURES(LOG_ONE)
#undef LOG_ONE
	pr_info("kernel %s features: %s", f->kernel, line);
}

void berth_features_json(const struct berth_features *f, FILE *out)
{
	bool first = true;

	fputc('{', out);
#define JSON_ONE(name)                                         \
	fprintf(out, "%s\"%s\": %s", first ? "" : ", ", #name, \
		f->name ? "true" : "false");                   \
	first = false;
	FEATURES(JSON_ONE)
#undef JSON_ONE
	fputc('}', out);
}

void berth_features_text(const struct berth_features *f, FILE *out)
{
#define TEXT_ONE(name) \
	fprintf(out, "%-18s %s\n", #name, f->name ? "yes" : "no");
	FEATURES(TEXT_ONE)
#undef TEXT_ONE
}
