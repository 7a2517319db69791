# bash completion for berthctl: source <(berthctl completion bash)
# shellcheck disable=SC2207 # COMPREPLY=($(compgen ...)): the completion idiom
_berthctl_kinds="pods services deployments replicasets statefulsets daemonsets jobs nodes namespaces configmaps secrets serviceaccounts endpoints endpointslices events leases networkpolicies"

# names of KIND from the server, with the -n/--kubeconfig of the line
_berthctl_names() {
	local kind=$1 i w args=()
	for ((i = 1; i < ${#COMP_WORDS[@]}; i++)); do
		w=${COMP_WORDS[i]}
		case $w in
		-n | --namespace | --kubeconfig | --context)
			[ $((i + 1)) -lt ${#COMP_WORDS[@]} ] && args+=("$w" "${COMP_WORDS[i + 1]}") ;;
		-A | --all-namespaces) args+=(-A) ;;
		esac
	done
	"${COMP_WORDS[0]}" get "$kind" -o name "${args[@]}" 2>/dev/null | sed 's|^[^/]*/||'
}

_berthctl() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
	local cmds="apply get describe delete logs scale rollout top monitor bpf probe completion"
	local cmd='' i w pos=()
	COMPREPLY=()
	# the command is the first word that is not a flag or a flag's value;
	# the positional words after it, up to the cursor, go into pos
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		case $w in
		-f) [ "$cmd" = logs ] || ((i++)) ;;
		-n | -o | -l | -c | --namespace | --output | --selector | --filename | --container | --kubeconfig | --context | --replicas | --tail | --timeout | --to-revision | --node | --root | --socket | --pod | --reason | --count | --type) ((i++)) ;;
		-*) ;;
		*) if [ -z "$cmd" ]; then cmd=$w; else pos+=("$w"); fi ;;
		esac
	done
	if [ -z "$cmd" ] && [[ $cur != -* ]] && [[ $prev != -* || $prev == -A || $prev == --all-namespaces || $prev == --no-headers ]]; then
		COMPREPLY=($(compgen -W "$cmds" -- "$cur"))
		return
	fi
	case $prev in
	-f | --filename)
		if [ "$cmd" != logs ]; then
			COMPREPLY=($(compgen -f -- "$cur"))
			return
		fi ;;
	--kubeconfig | --root | --socket)
		COMPREPLY=($(compgen -f -- "$cur"))
		return ;;
	-n | --namespace)
		COMPREPLY=($(compgen -W "$(_berthctl_names namespaces)" -- "$cur"))
		return ;;
	-o | --output)
		COMPREPLY=($(compgen -W "wide json yaml name" -- "$cur"))
		return ;;
	--node)
		COMPREPLY=($(compgen -W "$(ls /sys/fs/bpf/berth 2>/dev/null)" -- "$cur"))
		return ;;
	-c | --container | -l | --selector | --replicas | --tail | --timeout | --to-revision | --context | --pod | --reason | --count | --type)
		return ;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "--kubeconfig --context --namespace --all-namespaces --output --selector --filename --no-headers --help" -- "$cur"))
		return
	fi
	case $cmd in
	get | describe | delete)
		if [ ${#pos[@]} -eq 0 ]; then
			COMPREPLY=($(compgen -W "$_berthctl_kinds" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$(_berthctl_names "${pos[0]}")" -- "$cur"))
		fi ;;
	logs)
		[ ${#pos[@]} -eq 0 ] && COMPREPLY=($(compgen -W "$(_berthctl_names pods)" -- "$cur")) ;;
	scale)
		if [ ${#pos[@]} -eq 0 ]; then
			if [[ $cur == */* ]]; then
				COMPREPLY=($(compgen -P "${cur%%/*}/" -W "$(_berthctl_names "${cur%%/*}")" -- "${cur#*/}"))
			else
				compopt -o nospace 2>/dev/null
				COMPREPLY=($(compgen -S / -W "deployment replicaset statefulset" -- "$cur"))
			fi
		fi ;;
	rollout)
		if [ ${#pos[@]} -eq 0 ]; then
			COMPREPLY=($(compgen -W "status undo" -- "$cur"))
		elif [ ${#pos[@]} -eq 1 ]; then
			COMPREPLY=($(compgen -P deployment/ -W "$(_berthctl_names deployments)" -- "${cur#deployment/}"))
		fi ;;
	top)
		[ ${#pos[@]} -eq 0 ] && COMPREPLY=($(compgen -W "nodes pods" -- "$cur")) ;;
	bpf)
		[ ${#pos[@]} -eq 0 ] && COMPREPLY=($(compgen -W "@BPF_TABLES@" -- "$cur")) ;;
	completion)
		[ ${#pos[@]} -eq 0 ] && COMPREPLY=($(compgen -W "bash" -- "$cur")) ;;
	esac
}
complete -F _berthctl berthctl
