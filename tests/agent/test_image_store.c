// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The image store: digests, references, manifests, configs, OCI layout and docker-save loading, gc, rootfs. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../userspace/agent/image_priv.h"
#include "test_image_util.h"

static char *tmp;

static void setup(void)
{
	tmp = timg_tmpdir();
}

static void teardown(void)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/c/rootfs", tmp);
	umount2(path, MNT_DETACH);
	berth_rm_rf(tmp);
	free(tmp);
	timg_paths_free();
}

TestSuite(image_store, .init = setup, .fini = teardown);
TestSuite(image_parse);

/* tmp/rel, valid until the test ends */
static const char *p(const char *rel)
{
	return timg_path(tmp, rel);
}

Test(image_parse, sha256_vectors)
{
	char d[BERTH_IMAGE_ID_LEN], d2[BERTH_IMAGE_ID_LEN];
	struct berth_sha256 s;
	static char big[1000001];
	size_t i;

	berth_sha256_digest("", 0, d);
	cr_assert_str_eq(d, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	berth_sha256_digest("abc", 3, d);
	cr_assert_str_eq(d, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	berth_sha256_digest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, d);
	cr_assert_str_eq(d, "sha256:248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	memset(big, 'a', 1000000);
	berth_sha256_digest(big, 1000000, d);
	cr_assert_str_eq(d, "sha256:cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	berth_sha256_init(&s);
	for (i = 0; i < 1000000; i += 7)
		berth_sha256_update(&s, big + i, i + 7 > 1000000 ? 1000000 - i : 7);
	berth_sha256_final_digest(&s, d2);
	cr_assert_str_eq(d, d2, "streaming in odd chunks gives the same digest");
	cr_assert(berth_digest_valid(d));
	cr_assert_not(berth_digest_valid("sha256:ABC"));
	cr_assert_not(berth_digest_valid("md5:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
}

static void ref_is(const char *in, const char *reg, const char *repo, const char *tag,
		   const char *digest)
{
	struct berth_image_ref r;

	cr_assert_eq(berth_image_ref_parse(in, &r), 0, "parse %s", in);
	cr_assert_str_eq(r.registry, reg, "%s: registry", in);
	cr_assert_str_eq(r.repository, repo, "%s: repository", in);
	cr_assert_str_eq(r.tag, tag, "%s: tag", in);
	cr_assert_str_eq(r.digest, digest, "%s: digest", in);
}

#define DG "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

Test(image_parse, references)
{
	char buf[512];
	struct berth_image_ref r;

	ref_is("busybox", "docker.io", "library/busybox", "latest", "");
	ref_is("busybox:1.36", "docker.io", "library/busybox", "1.36", "");
	ref_is("user/app", "docker.io", "user/app", "latest", "");
	ref_is("127.0.0.1:5000/busybox:1", "127.0.0.1:5000", "busybox", "1", "");
	ref_is("localhost/a/b", "localhost", "a/b", "latest", "");
	ref_is("quay.io/x/y:v1@" DG, "quay.io", "x/y", "v1", DG);
	ref_is("127.0.0.1:5000/busybox@" DG, "127.0.0.1:5000", "busybox", "", DG);
	cr_assert_neq(berth_image_ref_parse("", &r), 0);
	cr_assert_neq(berth_image_ref_parse("Busybox", &r), 0, "upper case repository");
	cr_assert_neq(berth_image_ref_parse("busybox:", &r), 0);
	cr_assert_neq(berth_image_ref_parse("busybox@sha256:1234", &r), 0);
	cr_assert_neq(berth_image_ref_parse("a//b", &r), 0);
	cr_assert_neq(berth_image_ref_parse("busybox:bad tag", &r), 0);
	berth_image_ref_parse("busybox", &r);
	cr_assert_eq(berth_image_ref_format(&r, buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, "docker.io/library/busybox:latest");
}

Test(image_parse, pull_policy)
{
	cr_assert_eq(berth_pull_policy_default("busybox"), BERTH_PULL_ALWAYS);
	cr_assert_eq(berth_pull_policy_default("busybox:latest"), BERTH_PULL_ALWAYS);
	cr_assert_eq(berth_pull_policy_default("busybox:1"), BERTH_PULL_IF_NOT_PRESENT);
	cr_assert_eq(berth_pull_policy_default("busybox@" DG), BERTH_PULL_IF_NOT_PRESENT);
	cr_assert_eq(berth_pull_policy_parse("Never", "busybox"), BERTH_PULL_NEVER);
	cr_assert_eq(berth_pull_policy_parse("IfNotPresent", "busybox"), BERTH_PULL_IF_NOT_PRESENT);
	cr_assert_eq(berth_pull_policy_parse(NULL, "busybox:2"), BERTH_PULL_IF_NOT_PRESENT);
}

Test(image_parse, manifests)
{
	const char *oci = "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
			  "\"config\":{\"digest\":\"" DG "\",\"size\":7},"
			  "\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\","
			  "\"digest\":\"" DG "\",\"size\":42}]}";
	const char *list = "{\"schemaVersion\":2,\"mediaType\":"
			   "\"application/vnd.docker.distribution.manifest.list.v2+json\",\"manifests\":["
			   "{\"digest\":\"" DG "\",\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\"}},"
			   "{\"digest\":\"" DG "\",\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}}]}";
	const char *v1 = "{\"schemaVersion\":1,\"name\":\"x\",\"fsLayers\":[]}";
	struct berth_manifest m;
	char err[256];

	cr_assert_eq(berth_manifest_parse(oci, strlen(oci), NULL, &m, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(m.kind, BERTH_MANIFEST_IMAGE);
	cr_assert_str_eq(m.config, DG);
	cr_assert_eq(m.n, 1);
	cr_assert_eq(m.d[0].size, 42);
	berth_manifest_free(&m);

	cr_assert_eq(berth_manifest_parse(list, strlen(list), NULL, &m, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(m.kind, BERTH_MANIFEST_INDEX);
	cr_assert_eq(berth_manifest_pick(&m, NULL, NULL), 1, "linux/amd64 is the second entry");
	cr_assert_eq(berth_manifest_pick(&m, "linux", "arm64"), 0);
	cr_assert_eq(berth_manifest_pick(&m, "linux", "s390x"), -ENOENT);
	berth_manifest_free(&m);

	cr_assert_neq(berth_manifest_parse(v1, strlen(v1), NULL, &m, err, sizeof(err)), 0);
	cr_assert(strstr(err, "schema 1"), "schema 1 refused clearly: %s", err);
	cr_assert_neq(berth_manifest_parse("{", 1, NULL, &m, err, sizeof(err)), 0);
	cr_assert_neq(berth_manifest_parse("{\"mediaType\":\"text/plain\"}", 26, NULL, &m, err,
					   sizeof(err)), 0);
	cr_assert(strstr(err, "text/plain"), "%s", err);
}

Test(image_parse, config)
{
	const char *c = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Entrypoint\":[\"/ep\"],"
			"\"Cmd\":[\"-a\",\"b\"],\"Env\":[\"PATH=/bin\",\"A=1\"],\"WorkingDir\":\"/srv\","
			"\"User\":\"nobody\",\"ExposedPorts\":{\"80/tcp\":{},\"53/udp\":{}}},"
			"\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" DG "\"]}}";
	struct berth_image_config *cfg;

	cr_assert_eq(berth_image_config_parse(c, strlen(c), &cfg), 0);
	cr_assert_str_eq(cfg->entrypoint[0], "/ep");
	cr_assert_null(cfg->entrypoint[1]);
	cr_assert_str_eq(cfg->cmd[1], "b");
	cr_assert_str_eq(cfg->env[1], "A=1");
	cr_assert_str_eq(cfg->working_dir, "/srv");
	cr_assert_str_eq(cfg->user, "nobody");
	cr_assert_str_eq(cfg->exposed_ports[0], "80/tcp");
	cr_assert_str_eq(cfg->exposed_ports[1], "53/udp");
	cr_assert_str_eq(cfg->diff_ids[0], DG);
	cr_assert_str_eq(cfg->architecture, "amd64");
	berth_image_config_free(cfg);
	cr_assert_neq(berth_image_config_parse("[]", 2, &cfg), 0);
}

static const struct tentry base[] = {
	{ "bin", 'd' }, { "bin/busybox", 'f', "BB", 0755 }, { "bin/sh", 's', "busybox" },
	{ "etc", 'd' }, { "etc/gone", 'f', "x" },	     { "opt", 'd' },
	{ "opt/o", 'd' }, { "opt/o/old", 'f', "old" },
};
static const struct tentry top[] = {
	{ "etc/.wh.gone", 'f' }, { "opt/o/.wh..wh..opq", 'f' }, { "opt/o/new", 'f', "new" },
};

static void two_layers(void)
{
	timg_write_tar(p("l1.tar"), base, sizeof(base) / sizeof(base[0]), false);
	timg_write_tar(p("l2.tar"), top, sizeof(top) / sizeof(top[0]), false);
}

static struct berth_images *open_store(void)
{
	struct berth_images *imgs = berth_images_open(p("store"));

	cr_assert(imgs, "open the store: %s", strerror(errno));
	return imgs;
}

Test(image_store, load_oci_layout_and_inspect)
{
	const char *tars[] = { p("l1.tar"), p("l2.tar") };
	char id[BERTH_IMAGE_ID_LEN], got[BERTH_IMAGE_ID_LEN], err[512] = "";
	struct berth_image_config *cfg;
	struct berth_images *imgs;
	struct berth_image_info *l;
	size_t n;

	two_layers();
	timg_oci_layout(p("layout"), tars, 2, "example.com/app:v1", id);
	imgs = open_store();
	cr_assert_not(berth_image_present(imgs, "example.com/app:v1"));
	cr_assert_eq(berth_image_load(imgs, p("layout"), "busybox:t", got, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_str_eq(got, id);
	cr_assert(berth_image_present(imgs, "example.com/app:v1"), "tagged from ref.name");
	cr_assert(berth_image_present(imgs, "docker.io/library/busybox:t"), "tagged as asked");
	cr_assert(berth_image_present(imgs, id), "found by id");
	cr_assert_eq(berth_image_config_get(imgs, "busybox:t", &cfg), 0);
	cr_assert_str_eq(cfg->cmd[0], "sh");
	cr_assert_str_eq(cfg->entrypoint[1], "-x");
	cr_assert_str_eq(cfg->working_dir, "/w");
	cr_assert_str_eq(cfg->user, "1000:1000");
	berth_image_config_free(cfg);
	cr_assert_eq(berth_images_list(imgs, &l, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(l[0].refs[0], "docker.io/library/busybox:t");
	berth_image_list_free(l, n);
	berth_images_close(imgs);

	/* the index survives a reopen */
	imgs = open_store();
	cr_assert(berth_image_present(imgs, "busybox:t"));
	cr_assert_eq(berth_image_untag(imgs, "busybox:t"), 0);
	cr_assert_not(berth_image_present(imgs, "busybox:t"));
	cr_assert_eq(berth_image_untag(imgs, "busybox:t"), -ENOENT);
	berth_images_close(imgs);
}

Test(image_store, corrupt_layout_blob_refused)
{
	const char *tars[] = { p("l1.tar") };
	char id[BERTH_IMAGE_ID_LEN], err[512] = "", blob[PATH_MAX];
	struct berth_images *imgs;
	struct berth_manifest m;
	char *body, *idx;
	size_t len;
	FILE *f;

	two_layers();
	timg_oci_layout(p("layout"), tars, 1, "example.com/app:v1", id);
	/* find the layer through the index and the manifest, then flip a byte */
	cr_assert_eq(berth_read_file(p("layout/index.json"), &idx, NULL), 0);
	body = strstr(idx, "sha256:");
	snprintf(blob, sizeof(blob), "%s/layout/blobs/sha256/%.64s", tmp, body + 7);
	free(idx);
	cr_assert_eq(berth_read_file(blob, &body, &len), 0);
	cr_assert_eq(berth_manifest_parse(body, len, NULL, &m, err, sizeof(err)), 0);
	free(body);
	snprintf(blob, sizeof(blob), "%s/layout/blobs/sha256/%s", tmp, m.d[0].digest + 7);
	f = fopen(blob, "r+");
	fseek(f, 600, SEEK_SET);
	fputc('Z', f);
	fclose(f);
	imgs = open_store();
	cr_assert_neq(berth_image_load(imgs, p("layout"), NULL, NULL, err, sizeof(err)), 0);
	cr_assert(strstr(err, "refusing"), "clear message: %s", err);
	cr_assert(strstr(err, m.d[0].digest), "names the blob: %s", err);
	cr_assert_not(berth_image_present(imgs, "example.com/app:v1"));
	snprintf(blob, sizeof(blob), "%s/store/blobs/sha256/%s", tmp, m.d[0].digest + 7);
	cr_assert_neq(access(blob, F_OK), 0, "nothing stored under the digest");
	berth_manifest_free(&m);
	berth_images_close(imgs);
}

static void docker_save_dir(const char *dir, char *id_out)
{
	char cfg[8192], path[PATH_MAX], d1[BERTH_IMAGE_ID_LEN], d2[BERTH_IMAGE_ID_LEN], *b;
	size_t len;

	berth_mkdir_p(dir, 0755);
	berth_sha256_file(p("l1.tar"), d1);
	berth_sha256_file(p("l2.tar"), d2);
	snprintf(cfg, sizeof(cfg),
		 "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Cmd\":[\"sh\"]},"
		 "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\",\"%s\"]}}", d1, d2);
	berth_sha256_digest(cfg, strlen(cfg), id_out);
	snprintf(path, sizeof(path), "%s/%s.json", dir, id_out + 7);
	timg_write(path, cfg);
	snprintf(path, sizeof(path), "%s/aaa", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/bbb", dir);
	mkdir(path, 0755);
	cr_assert_eq(berth_read_file(p("l1.tar"), &b, &len), 0);
	snprintf(path, sizeof(path), "%s/aaa/layer.tar", dir);
	{
		FILE *f = fopen(path, "w");

		fwrite(b, 1, len, f);
		fclose(f);
	}
	free(b);
	snprintf(path, sizeof(path), "%s/bbb/layer.tar", dir);
	rename(p("l2.tar"), path);
	snprintf(cfg, sizeof(cfg),
		 "[{\"Config\":\"%s.json\",\"RepoTags\":[\"busybox:saved\"],"
		 "\"Layers\":[\"aaa/layer.tar\",\"bbb/layer.tar\"]}]", id_out + 7);
	snprintf(path, sizeof(path), "%s/manifest.json", dir);
	timg_write(path, cfg);
}

Test(image_store, load_docker_save_tar)
{
	char id[BERTH_IMAGE_ID_LEN], got[BERTH_IMAGE_ID_LEN], err[512] = "", cmd[PATH_MAX * 2];
	struct berth_images *imgs;

	two_layers();
	docker_save_dir(p("save"), id);
	snprintf(cmd, sizeof(cmd), "tar -C %s/save -cf %s/save.tar .", tmp, tmp);
	cr_assert_eq(system(cmd), 0, "make the docker save tar");
	imgs = open_store();
	cr_assert_eq(berth_image_load(imgs, p("save.tar"), NULL, got, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_str_eq(got, id);
	cr_assert(berth_image_present(imgs, "busybox:saved"), "RepoTags recorded");
	cr_assert_neq(access(p("store/tmp/load-0"), F_OK), 0);
	berth_images_close(imgs);
}

Test(image_store, load_bad_input)
{
	struct berth_images *imgs;
	char err[512] = "";

	imgs = open_store();
	mkdir(p("empty"), 0755);
	cr_assert_neq(berth_image_load(imgs, p("empty"), NULL, NULL, err, sizeof(err)), 0);
	cr_assert(strstr(err, "neither an OCI image layout"), "%s", err);
	cr_assert_neq(berth_image_load(imgs, p("missing"), NULL, NULL, err, sizeof(err)), 0);
	cr_assert(strstr(err, "failed to load image from"), "%s", err);
	mkdir(p("bad"), 0755);
	timg_write(p("bad/manifest.json"), "[{\"Config\":\"../../etc/passwd\",\"Layers\":[]}]");
	cr_assert_neq(berth_image_load(imgs, p("bad"), NULL, NULL, err, sizeof(err)), 0);
	berth_images_close(imgs);
}

static void check_rootfs(const char *rootfs)
{
	char path[PATH_MAX + 64], *s;

	snprintf(path, sizeof(path), "%s/bin/busybox", rootfs);
	cr_assert_eq(access(path, F_OK), 0, "%s exists", path);
	snprintf(path, sizeof(path), "%s/etc/gone", rootfs);
	cr_assert_neq(access(path, F_OK), 0, "whiteout applied");
	snprintf(path, sizeof(path), "%s/opt/o/old", rootfs);
	cr_assert_neq(access(path, F_OK), 0, "opaque dir applied");
	snprintf(path, sizeof(path), "%s/opt/o/new", rootfs);
	cr_assert_eq(berth_read_file(path, &s, NULL), 0);
	cr_assert_str_eq(s, "new");
	free(s);
	/* the container writes without touching the store */
	snprintf(path, sizeof(path), "%s/bin/busybox", rootfs);
	timg_write(path, "changed");
}

static void rootfs_case(bool copy)
{
	const char *tars[] = { p("l1.tar"), p("l2.tar") };
	char id[BERTH_IMAGE_ID_LEN], err[512] = "", rootfs[PATH_MAX], *s;
	struct berth_images *imgs;

	two_layers();
	timg_oci_layout(p("layout"), tars, 2, "example.com/app:v1", id);
	imgs = open_store();
	cr_assert_eq(berth_image_load(imgs, p("layout"), NULL, NULL, err, sizeof(err)), 0, "%s", err);
	if (copy)
		setenv("BERTH_IMAGE_ROOTFS", "copy", 1);
	cr_assert_eq(berth_image_rootfs(imgs, id, p("c"), rootfs), 0);
	unsetenv("BERTH_IMAGE_ROOTFS");
	cr_assert_str_eq(rootfs, p("c/rootfs"));
	check_rootfs(rootfs);
	if (!copy) {
		char cmd[PATH_MAX + 64];

		/* asked again (an agent restart): no second mount on top */
		cr_assert_eq(berth_image_rootfs(imgs, id, p("c"), rootfs), 0);
		snprintf(cmd, sizeof(cmd), "test $(grep -c ' %s ' /proc/mounts) = 1", rootfs);
		cr_assert_eq(system(cmd), 0, "one overlay mount at %s", rootfs);
	}
	berth_images_close(imgs);
	imgs = open_store();
	{
		char layer[PATH_MAX], d[BERTH_IMAGE_ID_LEN];

		berth_sha256_file(p("l1.tar"), d);
		snprintf(layer, sizeof(layer), "%s/store/layers/%s/bin/busybox", tmp, d + 7);
		cr_assert_eq(berth_read_file(layer, &s, NULL), 0);
		cr_assert_str_eq(s, "BB", "the store's layer is unchanged");
		free(s);
	}
	cr_assert_eq(berth_image_rootfs_release(imgs, p("c")), 0);
	cr_assert_neq(access(p("c/rootfs"), F_OK), 0);
	cr_assert_neq(access(p("c/upper"), F_OK), 0);
	berth_images_close(imgs);
}

Test(image_store, rootfs_overlay)
{
	rootfs_case(false);
}

Test(image_store, rootfs_copy_fallback)
{
	rootfs_case(true);
}

Test(image_store, gc_and_policy)
{
	const char *tars[] = { p("l1.tar"), p("l2.tar") };
	char id[BERTH_IMAGE_ID_LEN], err[512] = "", path[PATH_MAX];
	const char *in_use[] = { NULL };
	struct berth_images *imgs;

	two_layers();
	timg_oci_layout(p("layout"), tars, 2, "example.com/app:v1", id);
	imgs = open_store();
	cr_assert_neq(berth_image_ensure(imgs, "example.com/app:v1", BERTH_PULL_NEVER, NULL, NULL,
					 err, sizeof(err)), 0);
	cr_assert(strstr(err, "Never"), "%s", err);
	cr_assert_eq(berth_image_load(imgs, p("layout"), NULL, NULL, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(berth_image_ensure(imgs, "example.com/app:v1", BERTH_PULL_NEVER, NULL, NULL,
					err, sizeof(err)), 0);
	cr_assert_eq(berth_image_ensure(imgs, "example.com/app:v1", BERTH_PULL_IF_NOT_PRESENT,
					NULL, NULL, err, sizeof(err)), 0);
	/* tagged: gc keeps it */
	cr_assert_eq(berth_images_gc(imgs, NULL, 0), 0);
	cr_assert(berth_image_present(imgs, id));
	/* untagged but in use: kept */
	cr_assert_eq(berth_image_untag(imgs, "example.com/app:v1"), 0);
	in_use[0] = id;
	cr_assert_eq(berth_images_gc(imgs, in_use, 1), 0);
	cr_assert(berth_image_present(imgs, id));
	/* neither: gone, with its blobs and layers */
	cr_assert_eq(berth_images_gc(imgs, NULL, 0), 0);
	cr_assert_not(berth_image_present(imgs, id));
	snprintf(path, sizeof(path), "%s/store/blobs/sha256/%s", tmp, id + 7);
	cr_assert_neq(access(path, F_OK), 0, "config blob removed");
	snprintf(path, sizeof(path), "%s/store/layers", tmp);
	{
		char cmd[PATH_MAX + 64];

		snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A %s)\"", path);
		cr_assert_eq(system(cmd), 0, "layers removed");
	}
	berth_images_close(imgs);
}
