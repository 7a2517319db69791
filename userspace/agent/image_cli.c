// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* `berth-agent image ...`: the image store from the command line, for users and tests. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <berth/log.h>

#include "image_priv.h"

#define MAX_INSECURE 16

static void usage(FILE *f)
{
	fprintf(f,
		"usage: berth-agent image [--root DIR] [--insecure HOST[:PORT]]... [--username U --password P]\n"
		"                         [--quiet] COMMAND ...\n"
		"  pull REF           pull from a registry, print the image id\n"
		"  load PATH [REF]    load an OCI layout (dir or tar) or a docker save tarball\n"
		"  list               images and their refs\n"
		"  inspect REF|ID     the image config\n"
		"  present REF|ID     exit 0 if present locally, 1 if not\n"
		"  rootfs REF|ID DIR  mount (or copy) a rootfs at DIR/rootfs\n"
		"  release DIR        unmount/remove DIR/rootfs\n"
		"  untag REF          remove a ref\n"
		"  gc [ID]...         remove what no ref and no given id uses\n"
		"ROOT is the agent's root (default /var/lib/berth); images live in ROOT/images.\n");
}

/*
 * --quiet: no progress lines. Without it the pull logs them as the
 * kubelet's do (berth_image_pull: at most one a second).
 */
static void no_progress(void *arg, const char *what, uint64_t done,
			uint64_t total)
{
	(void)arg, (void)what, (void)done, (void)total;
}

static void print_strv(const char *name, char **v)
{
	printf("%s:", name);
	for (; v && *v; v++)
		printf(" \"%s\"", *v);
	printf("\n");
}

static int inspect(struct berth_images *imgs, const char *ref)
{
	struct berth_image_config *cfg;
	char id[BERTH_IMAGE_ID_LEN];
	int ret;

	ret = berth_image_resolve(imgs, ref, id);
	if (!ret)
		ret = berth_image_config_get(imgs, id, &cfg);
	if (ret) {
		fprintf(stderr, "inspect %s: %s\n", ref, strerror(-ret));
		return 1;
	}
	printf("id: %s\n", id);
	print_strv("entrypoint", cfg->entrypoint);
	print_strv("cmd", cfg->cmd);
	print_strv("env", cfg->env);
	printf("workingdir: %s\nuser: %s\n", cfg->working_dir ?: "", cfg->user ?: "");
	print_strv("exposedports", cfg->exposed_ports);
	printf("platform: %s/%s\n", cfg->os ?: "", cfg->architecture ?: "");
	print_strv("diffids", cfg->diff_ids);
	berth_image_config_free(cfg);
	return 0;
}

static int list(struct berth_images *imgs)
{
	struct berth_image_info *l;
	size_t n, i;
	char **r;

	if (berth_images_list(imgs, &l, &n))
		return 1;
	for (i = 0; i < n; i++) {
		printf("%s %llu", l[i].id, (unsigned long long)l[i].size);
		for (r = l[i].refs; r && *r; r++)
			printf(" %s", *r);
		printf("\n");
	}
	berth_image_list_free(l, n);
	return 0;
}

static int run(struct berth_images *imgs, struct berth_pull_opts *po, int argc, char **argv)
{
	char id[BERTH_IMAGE_ID_LEN], err[1024], rootfs[PATH_MAX];
	const char *cmd = argv[0];
	int ret;

	if (!strcmp(cmd, "pull") && argc == 2) {
		ret = berth_image_pull(imgs, argv[1], po, id, err, sizeof(err));
	} else if (!strcmp(cmd, "load") && (argc == 2 || argc == 3)) {
		ret = berth_image_load(imgs, argv[1], argc == 3 ? argv[2] : NULL, id, err,
				       sizeof(err));
	} else if (!strcmp(cmd, "list") && argc == 1) {
		return list(imgs);
	} else if (!strcmp(cmd, "inspect") && argc == 2) {
		return inspect(imgs, argv[1]);
	} else if (!strcmp(cmd, "present") && argc == 2) {
		return berth_image_present(imgs, argv[1]) ? 0 : 1;
	} else if (!strcmp(cmd, "rootfs") && argc == 3) {
		ret = berth_image_resolve(imgs, argv[1], id);
		if (!ret)
			ret = berth_image_rootfs(imgs, id, argv[2], rootfs);
		if (ret) {
			fprintf(stderr, "rootfs of %s in %s: %s\n", argv[1], argv[2], strerror(-ret));
			return 1;
		}
		printf("%s\n", rootfs);
		return 0;
	} else if (!strcmp(cmd, "release") && argc == 2) {
		ret = berth_image_rootfs_release(imgs, argv[1]);
		if (ret)
			fprintf(stderr, "release %s: %s\n", argv[1], strerror(-ret));
		return !!ret;
	} else if (!strcmp(cmd, "untag") && argc == 2) {
		ret = berth_image_untag(imgs, argv[1]);
		if (ret)
			fprintf(stderr, "untag %s: %s\n", argv[1], strerror(-ret));
		return !!ret;
	} else if (!strcmp(cmd, "gc")) {
		ret = berth_images_gc(imgs, (const char *const *)argv + 1, argc - 1);
		return !!ret;
	} else {
		usage(stderr);
		return 2;
	}
	if (ret) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	printf("%s\n", id);
	return 0;
}

int berth_image_cli(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "root", required_argument, NULL, 'r' },
		{ "insecure", required_argument, NULL, 'i' },
		{ "username", required_argument, NULL, 'u' },
		{ "password", required_argument, NULL, 'p' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *insecure[MAX_INSECURE + 1] = { 0 };
	struct berth_pull_opts po = { .insecure_registries = insecure };
	const char *root = "/var/lib/berth";
	struct berth_images *imgs;
	char path[PATH_MAX];
	int c, n_insecure = 0, ret;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+r:i:u:p:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			root = optarg;
			break;
		case 'i':
			if (n_insecure < MAX_INSECURE)
				insecure[n_insecure++] = optarg;
			break;
		case 'u':
			po.username = optarg;
			break;
		case 'p':
			po.password = optarg;
			break;
		case 'q':
			po.progress = no_progress;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	snprintf(path, sizeof(path), "%s/images", root);
	imgs = berth_images_open(path);
	if (!imgs) {
		fprintf(stderr, "open image store %s: %s\n", path, strerror(errno));
		return 1;
	}
	ret = run(imgs, &po, argc - optind, argv + optind);
	berth_images_close(imgs);
	return ret;
}
