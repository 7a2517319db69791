// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * berthctl: workloads against the API server (kubectl's verbs and exit
 * codes), a node's BPF maps, the agent's monitor stream, completion.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <berth/log.h>

#include "ctl.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: berthctl COMMAND [ARGS] [FLAGS]\n"
		"  apply -f FILE|DIR|-              create or update objects (server-side apply)\n"
		"  get KIND [NAME] [-o wide|json|yaml|name] [-l SEL] [-n NS|-A]\n"
		"  describe KIND NAME               fields and events\n"
		"  delete KIND NAME | -f FILE\n"
		"  logs POD [-c C] [-f] [--tail N] [--previous]\n"
		"  scale KIND/NAME --replicas N\n"
		"  rollout status|undo deployment/NAME [--timeout 5m] [--to-revision N]\n"
		"  top nodes|pods                   requests against allocatable\n"
		"  monitor [--root DIR] [--pod NS/NAME] [--reason R] [-o json]\n"
		"  bpf TABLE --node NAME [-o json]  TABLE: services backends rev_nat affinity\n"
		"                                   ct nat endpoints ipcache node metrics\n"
		"  bpf policy NS/NAME|IP --node NAME what a pod allows (NetworkPolicy)\n"
		"  probe [-o json]                  kernel features, verifier verdicts\n"
		"  completion bash                  a bash completion script\n"
		"flags: --kubeconfig FILE (else $KUBECONFIG, ~/.kube/config), --context NAME,\n"
		"       -n NS, -A, --no-headers, -v (why a request failed)\n");
}

static const struct kube_cmd {
	const char *name;
	int (*run)(struct ctl *c);
} kube_cmds[] = {
	{ "get", cmd_get },	    { "apply", cmd_apply },
	{ "delete", cmd_delete },   { "describe", cmd_describe },
	{ "logs", cmd_logs },	    { "scale", cmd_scale },
	{ "rollout", cmd_rollout }, { "top", cmd_top },
};

enum {
	OPT_KUBECONFIG = 256,
	OPT_CONTEXT,
	OPT_TAIL,
	OPT_PREVIOUS,
	OPT_REPLICAS,
	OPT_TIMEOUT,
	OPT_TO_REVISION,
	OPT_NO_HEADERS,
	OPT_VERBOSE,
};

static bool is_logs;

static int parse_long(const char *flag, const char *s, long min, long *out)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (!*s || *end || v < min) {
		fprintf(stderr, "error: invalid value '%s' for %s\n", s, flag);
		return -1;
	}
	*out = v;
	return 0;
}

static int parse_opt(struct ctl *c, int opt, const char *arg)
{
	switch (opt) {
	case OPT_KUBECONFIG:
		c->kubeconfig = arg;
		return 0;
	case OPT_CONTEXT:
		c->context = arg;
		return 0;
	case 'n':
		c->ns = (char *)arg;
		c->ns_set = true;
		return 0;
	case 'A':
		c->all_ns = true;
		return 0;
	case 'o':
		if (strcmp(arg, "wide") && strcmp(arg, "json") &&
		    strcmp(arg, "yaml") && strcmp(arg, "name")) {
			fprintf(stderr,
				"error: unable to match a printer suitable for the output format \"%s\", allowed formats are: json,name,wide,yaml\n",
				arg);
			return -1;
		}
		c->output = arg;
		return 0;
	case 'l':
		c->selector = arg;
		return 0;
	case 'f':
		if (is_logs) {
			c->follow = true;
			return 0;
		}
		if (c->nfiles == CTL_MAX_FILES) {
			fprintf(stderr, "error: too many -f\n");
			return -1;
		}
		c->files[c->nfiles++] = arg;
		return 0;
	case 'c':
		c->container = arg;
		return 0;
	case OPT_TAIL:
		return parse_long("--tail", arg, -1, &c->tail);
	case OPT_PREVIOUS:
		c->previous = true;
		return 0;
	case OPT_REPLICAS:
		return parse_long("--replicas", arg, 0, &c->replicas);
	case OPT_TIMEOUT:
		c->timeout = ctl_parse_duration(arg);
		if (c->timeout < 0) {
			fprintf(stderr,
				"error: invalid value '%s' for --timeout\n",
				arg);
			return -1;
		}
		return 0;
	case OPT_TO_REVISION:
		return parse_long("--to-revision", arg, 0, &c->to_revision);
	case OPT_NO_HEADERS:
		c->no_headers = true;
		return 0;
	case OPT_VERBOSE:
		/* the client library's debug lines say why a request failed */
		berth_log_level = BERTH_LOG_DEBUG;
		return 0;
	}
	return -1;
}

static int run_kube(const struct kube_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "kubeconfig", required_argument, NULL, OPT_KUBECONFIG },
		{ "context", required_argument, NULL, OPT_CONTEXT },
		{ "namespace", required_argument, NULL, 'n' },
		{ "all-namespaces", no_argument, NULL, 'A' },
		{ "output", required_argument, NULL, 'o' },
		{ "selector", required_argument, NULL, 'l' },
		{ "filename", required_argument, NULL, 'f' },
		{ "follow", no_argument, NULL, 'f' },
		{ "container", required_argument, NULL, 'c' },
		{ "tail", required_argument, NULL, OPT_TAIL },
		{ "previous", no_argument, NULL, OPT_PREVIOUS },
		{ "replicas", required_argument, NULL, OPT_REPLICAS },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "to-revision", required_argument, NULL, OPT_TO_REVISION },
		{ "no-headers", no_argument, NULL, OPT_NO_HEADERS },
		{ "verbose", no_argument, NULL, OPT_VERBOSE },
		{ 0 },
	};
	struct ctl c = { .tail = -1, .replicas = -1, .timeout = 300 };
	int opt, ret;

	is_logs = !strcmp(cmd->name, "logs");
	optind = 1;
	/* logs takes -f without a value */
	while ((opt = getopt_long(argc, argv,
				  is_logs ? "n:Ao:l:fc:v" : "n:Ao:l:f:c:v",
				  opts, NULL)) != -1) {
		if (opt == 'v')
			opt = OPT_VERBOSE;
		if (opt == '?' || parse_opt(&c, opt, optarg)) {
			fprintf(stderr, "See 'berthctl --help' for usage.\n");
			return CTL_USAGE;
		}
	}
	c.argc = argc - optind;
	c.argv = argv + optind;
	ret = cmd->run(&c);
	berth_kube_free(c.k);
	if (!c.ns_set)
		free(c.ns);
	return ret;
}

/* flags before the command: "berthctl -n kube-system get pods" */
static int command_index(int argc, char **argv)
{
	static const char *const valued[] = {
		"-n",	    "--namespace", "--kubeconfig", "--context", "-o",
		"--output", "-l",	   "--selector",   "--node",	NULL
	};
	int i;

	for (i = 1; i < argc && argv[i][0] == '-'; i++)
		for (int j = 0; valued[j]; j++)
			if (!strcmp(argv[i], valued[j])) {
				i++;
				break;
			}
	return i;
}

int main(int argc, char **argv)
{
	int ci = command_index(argc, argv);
	const char *cmd;

	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
			 !strcmp(argv[1], "help"))) {
		usage(stdout);
		return CTL_OK;
	}
	if (ci >= argc) {
		usage(stderr);
		return CTL_USAGE;
	}
	cmd = argv[ci];
	/* the node commands parse their own flags, before or after */
	if (!strcmp(cmd, "bpf") || !strcmp(cmd, "probe"))
		return cmd_bpf(argc, argv);
	if (!strcmp(cmd, "monitor"))
		return cmd_monitor(argc - 1, argv + 1);
	if (!strcmp(cmd, "completion"))
		return cmd_completion(argc - 1, argv + 1);
	/* the command first, the flags that came before it after it */
	memmove(argv + 2, argv + 1, (ci - 1) * sizeof(*argv));
	argv[1] = (char *)cmd;
	for (size_t i = 0; i < sizeof(kube_cmds) / sizeof(kube_cmds[0]); i++)
		if (!strcmp(cmd, kube_cmds[i].name))
			return run_kube(&kube_cmds[i], argc - 1, argv + 1);
	fprintf(stderr, "error: unknown command \"%s\" for \"berthctl\"\n",
		cmd);
	usage(stderr);
	return CTL_USAGE;
}
