# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Prometheus text parsed by prometheus_client's own parser (Debian's
python3-prometheus-client), and lookups of samples by name and labels."""
import sys

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    # a python3 of its own (pyenv) does not see Debian's packages
    sys.path.append("/usr/lib/python3/dist-packages")
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError:
        print("FAIL: python3-prometheus-client is missing (scripts/deps.sh installs it)")
        sys.exit(1)


class Metrics:
    """One scrape: families by name, samples as (name, labels, value)."""

    def __init__(self, text):
        self.families = {f.name: f for f in text_string_to_metric_families(text)}
        self.samples = [(s.name, s.labels, s.value)
                        for f in self.families.values() for s in f.samples]

    def get(self, name, **labels):
        """Sum of the samples called name whose labels include labels."""
        return sum(v for n, lab, v in self.samples
                   if n == name and all(lab.get(k) == w for k, w in labels.items()))

    def has(self, name, **labels):
        return any(n == name and all(lab.get(k) == w for k, w in labels.items())
                   for n, lab, _ in self.samples)

    def type_of(self, family):
        f = self.families.get(family)
        return f.type if f else None

    def histograms_consistent(self, family):
        """Every label set: buckets cumulative, +Inf bucket == count."""
        f = self.families[family]
        sets = {}
        for s in f.samples:
            key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
            sets.setdefault(key, {"buckets": [], "count": None})
            if s.name.endswith("_bucket"):
                sets[key]["buckets"].append((float(s.labels["le"]), s.value))
            elif s.name.endswith("_count"):
                sets[key]["count"] = s.value
        for key, h in sets.items():
            b = sorted(h["buckets"])
            if not b or b[-1][0] != float("inf") or b[-1][1] != h["count"]:
                return "%s %s: +Inf bucket %s, count %s" % (family, key, b[-1:], h["count"])
            if any(b[i][1] > b[i + 1][1] for i in range(len(b) - 1)):
                return "%s %s: buckets not cumulative: %s" % (family, key, b)
        return None
