# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""An independent model of networking.k8s.io/v1 NetworkPolicy: who may
reach whom, written from the API's documentation alone (it shares no code
or data layout with the agent's compiler, userspace/agent/policy.c), so the
truth-table test (test_mn_netpol.py) can hold the dataplane against it.

Choices where Kubernetes leaves room, the same ones berth documents:
- ipBlock selects addresses outside the cluster only (pods and nodes are
  selected by selectors), as Cilium does and as the API documents ipBlock
  ("should be cluster-external IPs").
- A named port is resolved on the pod that receives the connection: the
  selected pod for ingress, the destination pod for egress; addresses that
  are not pods have no port names.
- A pod reaching its own address is always allowed: that traffic never
  leaves the pod's network namespace (loopback), and Kubernetes states
  that pods cannot block localhost access; the upstream conformance matrix
  likewise allows every pod to itself (AllowLoopback).
Pure Python, standard library only.
"""
import ipaddress

NS_NAME_LABEL = "kubernetes.io/metadata.name"


class Pod:
    def __init__(self, ns, name, labels, ip, node, ports=()):
        """ports: (name, number, protocol) of the pod's containerPorts."""
        self.ns, self.name, self.labels = ns, name, dict(labels)
        self.ip, self.node, self.ports = ip, node, list(ports)

    def key(self):
        return "%s/%s" % (self.ns, self.name)

    def __repr__(self):
        return self.key()


class External:
    """A source outside the cluster (the external netns, one of its addresses)."""

    def __init__(self, ip):
        self.ip = ip

    def key(self):
        return "ext:" + self.ip

    def __repr__(self):
        return self.key()


def selector_matches(sel, labels):
    """A LabelSelector ({} matches everything)."""
    for k, v in (sel.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in sel.get("matchExpressions") or []:
        k, op, vals = e["key"], e["operator"], e.get("values") or []
        if op == "In":
            ok = k in labels and labels[k] in vals
        elif op == "NotIn":
            ok = k not in labels or labels[k] not in vals
        elif op == "Exists":
            ok = k in labels
        elif op == "DoesNotExist":
            ok = k not in labels
        else:
            raise ValueError("unknown operator " + op)
        if not ok:
            return False
    return True


class Model:
    def __init__(self, namespaces, pods):
        """namespaces: {name: labels}; pods: [Pod]."""
        self.ns_labels = {}
        for name, labels in namespaces.items():
            labels = dict(labels)
            labels[NS_NAME_LABEL] = name  # every namespace carries it
            self.ns_labels[name] = labels
        self.pods = list(pods)

    # -- which policies apply --

    @staticmethod
    def types(spec):
        if "policyTypes" in spec and spec["policyTypes"] is not None:
            return set(spec["policyTypes"])
        t = {"Ingress"}
        if "egress" in spec and spec["egress"] is not None:
            t.add("Egress")
        return t

    def selecting(self, policies, pod, direction):
        """The policies that select pod for direction ("Ingress"/"Egress")."""
        out = []
        for p in policies:
            ns = p["metadata"].get("namespace", "default")
            spec = p["spec"]
            if ns != pod.ns:
                continue
            if not selector_matches(spec.get("podSelector") or {}, pod.labels):
                continue
            if direction in self.types(spec):
                out.append(p)
        return out

    # -- peers and ports --

    def peer_matches(self, peer, policy_ns, other):
        if "ipBlock" in peer:
            if not isinstance(other, External):
                return False
            addr = ipaddress.ip_address(other.ip)
            b = peer["ipBlock"]
            if addr not in ipaddress.ip_network(b["cidr"], strict=False):
                return False
            return not any(addr in ipaddress.ip_network(e, strict=False)
                           for e in b.get("except") or [])
        if not isinstance(other, Pod):
            return False
        nssel, podsel = peer.get("namespaceSelector"), peer.get("podSelector")
        if nssel is None and podsel is None:
            return False
        if nssel is not None:
            if not selector_matches(nssel, self.ns_labels.get(other.ns, {NS_NAME_LABEL: other.ns})):
                return False
        elif other.ns != policy_ns:
            return False
        return podsel is None or selector_matches(podsel, other.labels)

    @staticmethod
    def port_matches(ports, proto, port, receiver):
        """ports: a rule's ports (None/[]: all); receiver: the Pod whose
        port names count, or None."""
        if not ports:
            return True
        for p in ports:
            pproto = p.get("protocol") or "TCP"
            if pproto != proto:
                continue
            if "port" not in p or p["port"] is None:
                return True
            want = p["port"]
            if isinstance(want, str):
                if receiver is None:
                    continue
                nums = [n for (name, n, pr) in receiver.ports if name == want and pr == proto]
                if port in nums:
                    return True
                continue
            end = p.get("endPort")
            if (end is None and port == want) or (end is not None and want <= port <= end):
                return True
        return False

    def rule_allows(self, rule, peers_key, policy_ns, other, proto, port, receiver):
        peers = rule.get(peers_key)
        if peers:
            if not any(self.peer_matches(pe, policy_ns, other) for pe in peers):
                return False
        return self.port_matches(rule.get("ports"), proto, port, receiver)

    def direction_allows(self, policies, pod, direction, other, proto, port, receiver):
        sel = self.selecting(policies, pod, direction)
        if not sel:
            return True  # not isolated in this direction
        rules_key, peers_key = (("ingress", "from") if direction == "Ingress"
                                else ("egress", "to"))
        for p in sel:
            ns = p["metadata"].get("namespace", "default")
            for rule in p["spec"].get(rules_key) or []:
                if self.rule_allows(rule, peers_key, ns, other, proto, port, receiver):
                    return True
        return False

    def allowed(self, policies, src, dst, proto, port):
        """Can src (Pod or External) open a connection to dst (Pod) on
        proto ("TCP"/"UDP"/"SCTP") port? Replies of allowed connections
        always pass, so one verdict per connection."""
        if isinstance(src, Pod) and src.ip == dst.ip:
            return True
        if isinstance(src, Pod) and not self.direction_allows(
                policies, src, "Egress", dst, proto, port, dst):
            return False
        return self.direction_allows(policies, dst, "Ingress", src, proto, port, dst)

    def matrix(self, policies, sources, dests, probes):
        """{(src key, dst key, proto, port): bool} for every probe (proto, port)."""
        return {(s.key(), d.key(), pr, po): self.allowed(policies, s, d, pr, po)
                for s in sources for d in dests for (pr, po) in probes}
