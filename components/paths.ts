// On-node paths and names that several parts of the program need: a leaf that imports nothing, so
// that any module may read them without an import running back up (cluster, migration, desired lab).

/** Kubernetes' certificate directory and admin kubeconfig (kubeadm's paths). */
export const PKI_DIR = "/etc/kubernetes/pki";
export const ADMIN_KUBECONFIG = "/etc/kubernetes/admin.conf";

/** The API server's client certificate for kubelets: what the checkpoint call presents. */
export const KUBELET_CLIENT_CERT = `${PKI_DIR}/apiserver-kubelet-client.crt`;
export const KUBELET_CLIENT_KEY = `${PKI_DIR}/apiserver-kubelet-client.key`;
