# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Job controller: completions with parallelism (never more than
parallelism active), pod labels, status and kubectl columns, `kubectl wait
--for=condition=complete`, Indexed completion, activeDeadlineSeconds,
suspend, ttlSecondsAfterFinished."""
import os
import subprocess
import time

from kwok import Cluster, Server, check, fail, items, wait_for

s = Server("--controllers", "job,scheduler")
c = Cluster(s, period=0.05)
c.add_node("n1")
c.add_node("n2")
NS = "/apis/batch/v1/namespaces/default/jobs"
env = dict(os.environ, KUBECONFIG=os.path.join(s.tmp, "data", "kubeconfig"))


def job(name, exit_ms=300, code=0, **spec):
    j = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
         "spec": {"template": {"metadata": {"annotations": {
             "kwok.berth.dev/exit-after-ms": str(exit_ms), "kwok.berth.dev/exit-code": str(code)}},
             "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}}
    j["spec"].update(spec)
    st, out, _ = s.req("POST", NS, j)
    check(st == 201, "job %s created: %s" % (name, out))
    return out


def pods(name):
    return items(s, "/api/v1/namespaces/default/pods?labelSelector=batch.kubernetes.io%2Fjob-name%3D" + name)


def get(name):
    return s.req("GET", NS + "/" + name)[1]


def cond(j, t):
    return any(c["type"] == t and c["status"] == "True" for c in j.get("status", {}).get("conditions", []))


def kubectl(*args, timeout=30):
    return subprocess.run(["kubectl", *args], env=env, capture_output=True, text=True, timeout=timeout)


# completions 5, parallelism 2: never more than 2 running at once
j = job("work", completions=5, parallelism=2)
uid = j["metadata"]["uid"]
wait = subprocess.Popen(["kubectl", "wait", "--for=condition=complete", "job/work", "--timeout=40s"],
                        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
deadline = time.monotonic() + 30
seen_cols = False
while time.monotonic() < deadline:
    ps = pods("work")
    active = [p for p in ps if p.get("status", {}).get("phase") not in ("Succeeded", "Failed")]
    if len(active) > 2:
        fail("%d active pods, parallelism 2" % len(active))
    j = get("work")
    if not seen_cols and 0 < j.get("status", {}).get("succeeded", 0) < 5:
        out = kubectl("get", "jobs", "work")
        row = out.stdout.split("\n")[1].split()
        check(out.stdout.split()[:5] == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"],
              "kubectl get jobs header: %r" % out.stdout)
        if row[1] == "Running" and row[2].endswith("/5"):
            seen_cols = True
            print("ok: kubectl shows a running job: %s" % row, flush=True)
    if cond(j, "Complete"):
        break
    time.sleep(0.03)
else:
    fail("job work not complete: %s" % get("work").get("status"))
check(seen_cols, "kubectl get jobs showed Running n/5")
st = get("work")["status"]
check(st.get("succeeded") == 5 and st.get("active") == 0 and st.get("failed") == 0 and
      st.get("startTime") and st.get("completionTime"), "status counts: %s" % st)
check(len(pods("work")) == 5, "finished pods are kept")
lab = pods("work")[0]["metadata"]["labels"]
check(lab.get("batch.kubernetes.io/job-name") == "work" and lab.get("job-name") == "work" and
      lab.get("controller-uid") == uid and lab.get("batch.kubernetes.io/controller-uid") == uid,
      "pod labels: %s" % lab)
out, err = wait.communicate(timeout=40)
check(wait.returncode == 0 and "condition met" in out, "kubectl wait --for=condition=complete: %s %s" % (out, err))
row = kubectl("get", "jobs", "work").stdout.split("\n")[1].split()
check(row[1:3] == ["Complete", "5/5"], "kubectl get jobs after completion: %s" % row)

# Indexed
job("idx", completions=3, parallelism=3, completionMode="Indexed")
wait_for("indexed job complete", lambda: cond(get("idx"), "Complete"), 20)
check(get("idx")["status"].get("completedIndexes") == "0-2", "completedIndexes: %s" % get("idx")["status"])
got = sorted((p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"],
              p["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"], p["spec"]["hostname"])
             for p in pods("idx"))
check(got == [("0", "0", "idx-0"), ("1", "1", "idx-1"), ("2", "2", "idx-2")], "index annotations, hostnames: %s" % got)

# activeDeadlineSeconds: a job that runs too long fails with DeadlineExceeded
job("slow", exit_ms=60000, activeDeadlineSeconds=2)
wait_for("deadline exceeded", lambda: cond(get("slow"), "Failed"), 10)
c_ = [x for x in get("slow")["status"]["conditions"] if x["type"] == "Failed"][0]
check(c_["reason"] == "DeadlineExceeded", "reason: %s" % c_)
wait_for("running pod of the failed job deleted", lambda: not [
    p for p in pods("slow") if p.get("status", {}).get("phase") not in ("Succeeded", "Failed")], 10)
row = kubectl("get", "jobs", "slow").stdout.split("\n")[1].split()
check(row[1] == "Failed", "kubectl shows Failed: %s" % row)

# suspend: no pods; resume: runs to completion
job("later", suspend=True)
wait_for("suspended condition", lambda: cond(get("later"), "Suspended"), 10)
check(not pods("later"), "no pods while suspended")
s.req("PATCH", NS + "/later", {"spec": {"suspend": False}}, "application/merge-patch+json")
wait_for("resumed job completes", lambda: cond(get("later"), "Complete"), 15)

# ttlSecondsAfterFinished: the job goes after it finished
job("brief", ttlSecondsAfterFinished=1)
wait_for("ttl job complete", lambda: cond(get("brief"), "Complete"), 10)
wait_for("ttl job deleted", lambda: s.req("GET", NS + "/brief")[0] == 404, 10)
check(not c.errors, "kwok errors: %s" % c.errors[:3])
c.stop()
