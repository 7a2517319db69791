// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * berthctl completion bash: the script completes commands, flags, kinds
 * (a static list) and names (`berthctl get KIND -o name` as you type).
 */
#include <stdio.h>
#include <string.h>

#include "ctl.h"

#define TABLES_MARK "@BPF_TABLES@"

static const char script[] =
	"# bash completion for berthctl: source <(berthctl completion bash)\n"
	"_berthctl_kinds=\"pods services deployments replicasets statefulsets daemonsets jobs nodes namespaces configmaps secrets serviceaccounts endpoints endpointslices events leases networkpolicies\"\n"
	"\n"
	"# names of KIND from the server, with the -n/--kubeconfig of the line\n"
	"_berthctl_names() {\n"
	"\tlocal kind=$1 i w args=()\n"
	"\tfor ((i = 1; i < ${#COMP_WORDS[@]}; i++)); do\n"
	"\t\tw=${COMP_WORDS[i]}\n"
	"\t\tcase $w in\n"
	"\t\t-n | --namespace | --kubeconfig | --context)\n"
	"\t\t\t[ $((i + 1)) -lt ${#COMP_WORDS[@]} ] && args+=(\"$w\" \"${COMP_WORDS[i + 1]}\") ;;\n"
	"\t\t-A | --all-namespaces) args+=(-A) ;;\n"
	"\t\tesac\n"
	"\tdone\n"
	"\t\"${COMP_WORDS[0]}\" get \"$kind\" -o name \"${args[@]}\" 2>/dev/null | sed 's|^[^/]*/||'\n"
	"}\n"
	"\n"
	"_berthctl() {\n"
	"\tlocal cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}\n"
	"\tlocal cmds=\"apply get describe delete logs scale rollout top monitor bpf probe completion\"\n"
	"\tlocal cmd= i w pos=()\n"
	"\tCOMPREPLY=()\n"
	"\t# the command is the first word that is not a flag or a flag's value;\n"
	"\t# the positional words after it, up to the cursor, go into pos\n"
	"\tfor ((i = 1; i < COMP_CWORD; i++)); do\n"
	"\t\tw=${COMP_WORDS[i]}\n"
	"\t\tcase $w in\n"
	"\t\t-f) [ \"$cmd\" = logs ] || ((i++)) ;;\n"
	"\t\t-n | -o | -l | -c | --namespace | --output | --selector | --filename | --container | --kubeconfig | --context | --replicas | --tail | --timeout | --to-revision | --node | --root | --socket | --pod | --reason | --count | --type) ((i++)) ;;\n"
	"\t\t-*) ;;\n"
	"\t\t*) if [ -z \"$cmd\" ]; then cmd=$w; else pos+=(\"$w\"); fi ;;\n"
	"\t\tesac\n"
	"\tdone\n"
	"\tif [ -z \"$cmd\" ] && [[ $cur != -* ]] && [[ $prev != -* || $prev == -A || $prev == --all-namespaces || $prev == --no-headers ]]; then\n"
	"\t\tCOMPREPLY=($(compgen -W \"$cmds\" -- \"$cur\"))\n"
	"\t\treturn\n"
	"\tfi\n"
	"\tcase $prev in\n"
	"\t-f | --filename)\n"
	"\t\tif [ \"$cmd\" != logs ]; then\n"
	"\t\t\tCOMPREPLY=($(compgen -f -- \"$cur\"))\n"
	"\t\t\treturn\n"
	"\t\tfi ;;\n"
	"\t--kubeconfig | --root | --socket)\n"
	"\t\tCOMPREPLY=($(compgen -f -- \"$cur\"))\n"
	"\t\treturn ;;\n"
	"\t-n | --namespace)\n"
	"\t\tCOMPREPLY=($(compgen -W \"$(_berthctl_names namespaces)\" -- \"$cur\"))\n"
	"\t\treturn ;;\n"
	"\t-o | --output)\n"
	"\t\tCOMPREPLY=($(compgen -W \"wide json yaml name\" -- \"$cur\"))\n"
	"\t\treturn ;;\n"
	"\t--node)\n"
	"\t\tCOMPREPLY=($(compgen -W \"$(ls /sys/fs/bpf/berth 2>/dev/null)\" -- \"$cur\"))\n"
	"\t\treturn ;;\n"
	"\t-c | --container | -l | --selector | --replicas | --tail | --timeout | --to-revision | --context | --pod | --reason | --count | --type)\n"
	"\t\treturn ;;\n"
	"\tesac\n"
	"\tif [[ $cur == -* ]]; then\n"
	"\t\tCOMPREPLY=($(compgen -W \"--kubeconfig --context --namespace --all-namespaces --output --selector --filename --no-headers --help\" -- \"$cur\"))\n"
	"\t\treturn\n"
	"\tfi\n"
	"\tcase $cmd in\n"
	"\tget | describe | delete)\n"
	"\t\tif [ ${#pos[@]} -eq 0 ]; then\n"
	"\t\t\tCOMPREPLY=($(compgen -W \"$_berthctl_kinds\" -- \"$cur\"))\n"
	"\t\telse\n"
	"\t\t\tCOMPREPLY=($(compgen -W \"$(_berthctl_names \"${pos[0]}\")\" -- \"$cur\"))\n"
	"\t\tfi ;;\n"
	"\tlogs)\n"
	"\t\t[ ${#pos[@]} -eq 0 ] && COMPREPLY=($(compgen -W \"$(_berthctl_names pods)\" -- \"$cur\")) ;;\n"
	"\tscale)\n"
	"\t\tif [ ${#pos[@]} -eq 0 ]; then\n"
	"\t\t\tif [[ $cur == */* ]]; then\n"
	"\t\t\t\tCOMPREPLY=($(compgen -P \"${cur%%/*}/\" -W \"$(_berthctl_names \"${cur%%/*}\")\" -- \"${cur#*/}\"))\n"
	"\t\t\telse\n"
	"\t\t\t\tcompopt -o nospace 2>/dev/null\n"
	"\t\t\t\tCOMPREPLY=($(compgen -S / -W \"deployment replicaset statefulset\" -- \"$cur\"))\n"
	"\t\t\tfi\n"
	"\t\tfi ;;\n"
	"\trollout)\n"
	"\t\tif [ ${#pos[@]} -eq 0 ]; then\n"
	"\t\t\tCOMPREPLY=($(compgen -W \"status undo\" -- \"$cur\"))\n"
	"\t\telif [ ${#pos[@]} -eq 1 ]; then\n"
	"\t\t\tCOMPREPLY=($(compgen -P deployment/ -W \"$(_berthctl_names deployments)\" -- \"${cur#deployment/}\"))\n"
	"\t\tfi ;;\n"
	"\ttop)\n"
	"\t\t[ ${#pos[@]} -eq 0 ] && COMPREPLY=($(compgen -W \"nodes pods\" -- \"$cur\")) ;;\n"
	"\tbpf)\n"
	"\t\t[ ${#pos[@]} -eq 0 ] && COMPREPLY=($(compgen -W \"@BPF_TABLES@\" -- \"$cur\")) ;;\n"
	"\tcompletion)\n"
	"\t\t[ ${#pos[@]} -eq 0 ] && COMPREPLY=($(compgen -W \"bash\" -- \"$cur\")) ;;\n"
	"\tesac\n"
	"}\n"
	"complete -F _berthctl berthctl\n";

int cmd_completion(int argc, char **argv)
{
	const char *mark;

	if (argc != 2 || strcmp(argv[1], "bash")) {
		fprintf(stderr, "usage: berthctl completion bash\n");
		return CTL_USAGE;
	}
	/* the bpf tables come from the table berthctl bpf dispatches on */
	mark = strstr(script, TABLES_MARK);
	fwrite(script, 1, mark - script, stdout);
	for (int i = 0; ctl_bpf_tables[i]; i++)
		printf("%s%s", i ? " " : "", ctl_bpf_tables[i]);
	fputs(mark + strlen(TABLES_MARK), stdout);
	return CTL_OK;
}
