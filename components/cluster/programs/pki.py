"""live-migration-lab: the local lab's kubeconfigs and kubelet credential bundles (pki.sh), and
installing a bundle on a node.

Usage:
  python3 pki.py issue SERVER MASTER NAME...   in the PKI directory: writes the admin kubeconfig
      and MASTER's kubelet files, prints {"admin": kubeconfig, "nodes": {NAME: bundle}} for the others
  python3 pki.py install                        installs the bundle on stdin; prints its paths
A bundle is {"files": {path: {"content": text, "mode": "0600"}}}. Kubeconfigs are JSON (which is
YAML, so kubectl and the kubelet read them). Paths: ADMIN_KUBECONFIG, KUBELET_KUBECONFIG and
PKI_DIR in the environment of `issue` (pki.sh exports them).
"""
import base64
import json
import os
import sys


def read(f):
    with open(f) as src:
        return src.read()


def b64(f):
    with open(f, "rb") as src:
        return base64.b64encode(src.read()).decode()


def kubeconfig(server, user, crt, key):
    return json.dumps({"apiVersion": "v1", "kind": "Config",
                       "clusters": [{"name": "lab", "cluster": {"server": server, "certificate-authority-data": b64("ca.crt")}}],
                       "users": [{"name": user, "user": {"client-certificate-data": b64(crt), "client-key-data": b64(key)}}],
                       "contexts": [{"name": "lab", "context": {"cluster": "lab", "user": user}}], "current-context": "lab"}, indent=1) + "\n"


def bundle(server, n):
    pki = os.environ["PKI_DIR"]
    return {"files": {
        os.environ["KUBELET_KUBECONFIG"]: {"content": kubeconfig(server, "system:node:" + n, "kubelet-%s-client.crt" % n, "kubelet-%s-client.key" % n), "mode": "0600"},
        pki + "/ca.crt": {"content": read("ca.crt"), "mode": "0644"},
        pki + "/kubelet.crt": {"content": read("kubelet-%s-server.crt" % n), "mode": "0644"},
        pki + "/kubelet.key": {"content": read("kubelet-%s-server.key" % n), "mode": "0600"}}}


def install(b):
    """Writes each file atomically with its mode."""
    for path, f in b["files"].items():
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = path + ".tmp"
        mode = int(f["mode"], 8)
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode), "w") as out:
            out.write(f["content"])
        os.chmod(tmp, mode)
        os.replace(tmp, path)


if sys.argv[1] == "issue":
    server, master, names = sys.argv[2], sys.argv[3], sys.argv[4:]
    admin = kubeconfig(server, "kubernetes-admin", "admin.crt", "admin.key")
    install({"files": {os.environ["ADMIN_KUBECONFIG"]: {"content": admin, "mode": "0600"}}})
    install(bundle(server, master))
    print(json.dumps({"admin": admin, "nodes": {n: bundle(server, n) for n in names if n != master}}))
elif sys.argv[1] == "install":
    b = json.load(sys.stdin)
    install(b)
    print(json.dumps({"files": sorted(b["files"])}))
else:
    sys.exit("usage: pki.py issue SERVER MASTER NAME... | install")
