// What the two drivers with real machines share (vagrant and existing): systemd hosts where
// packages are installed (or already there), kubeadm as on every driver, and the official Flink image
// pulled from a registry.
import type { LabConfig } from "../config/types";
import { renderNodeInstallScript } from "../cluster/kubeadm";
import type { NodeDriver } from "./driver";

export function kubeadmHosts(c: LabConfig):
    Pick<NodeDriver, "runtime" | "kubeadm" | "clusterFiles" | "install" | "flinkImage" | "cluster"> {
    return {
        runtime: { cgroupDriver: "systemd", kubeletSettings: () => undefined },
        kubeadm: { imagePullPolicy: "IfNotPresent", ignorePreflightErrors: [] },
        clusterFiles: () => [],
        install: renderNodeInstallScript({ kubernetesVersion: c.kubernetes.version, crioVersion: c.crio.version }),
        flinkImage: "pull",
        cluster: { services: "systemd" },
    };
}
