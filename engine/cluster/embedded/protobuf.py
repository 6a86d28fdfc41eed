"""Decode the Kubernetes protobuf request bodies that `kubectl create <generator>` sends.

Typed clientsets in kubectl post `application/vnd.kubernetes.protobuf` and never retry with JSON, so the
server has to read them. A body is the magic `k8s\\x00` followed by a `runtime.Unknown` envelope (type meta,
raw object bytes, content encoding, content type). `decode` turns it into the dict that `json.loads` would
give for the JSON kubectl prints with `--dry-run=client -o json`, so the rest of the server sees one shape.

The wire reader is a few lines of varint arithmetic. The messages are described declaratively below: each
field number maps to a compact spec string (see `_parse_spec`). Go's JSON rules decide what appears:
`omitempty` drops zero scalars and empty lists/maps but never struct values, pointers appear exactly when
set, and fields without `omitempty` always appear. gogo-protobuf writes every non-pointer field, so a zero
value on the wire is still a zero value here.

The descriptors cover every field (Kubernetes 1.37) of the kinds in `KINDS` and of everything they contain.
Field numbers the descriptors do not know are skipped, as protobuf readers must.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

MAGIC = b"k8s\x00"
MEDIA_TYPE = "application/vnd.kubernetes.protobuf"

VARINT, FIXED64, LENGTH_DELIMITED, FIXED32 = 0, 1, 2, 5
_MAX_VARINT_BYTES = 10
_UINT64 = 1 << 64


class ProtobufError(Exception):
    """A protobuf body that cannot be decoded: truncated, malformed, or of a kind the server cannot read."""


# ---------------------------------------------------------------------------------------------------------
# Wire format


class WireField(NamedTuple):
    number: int
    wire_type: int
    value: int | bytes


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """The unsigned varint starting at `pos`, and the position after it."""
    result = 0
    for index in range(_MAX_VARINT_BYTES):
        if pos >= len(data):
            raise ProtobufError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << (7 * index)
        if byte < 0x80:
            return result & (_UINT64 - 1), pos
    raise ProtobufError("varint longer than 10 bytes")


def iter_fields(data: bytes) -> Iterator[WireField]:
    """Every field of one message, in wire order; fixed-width values come back as unsigned ints."""
    pos = 0
    while pos < len(data):
        key, pos = read_varint(data, pos)
        number, wire_type = key >> 3, key & 7
        if number == 0:
            raise ProtobufError("field number 0 is not allowed")
        if wire_type == VARINT:
            value, pos = read_varint(data, pos)
            yield WireField(number, wire_type, value)
        elif wire_type == LENGTH_DELIMITED:
            length, pos = read_varint(data, pos)
            if length > len(data) - pos:
                remain = len(data) - pos
                raise ProtobufError(f"truncated: field {number} claims {length} bytes but only {remain} remain")
            yield WireField(number, wire_type, bytes(data[pos : pos + length]))
            pos += length
        elif wire_type in (FIXED64, FIXED32):
            size = 8 if wire_type == FIXED64 else 4
            if size > len(data) - pos:
                raise ProtobufError(f"truncated fixed{size * 8} value in field {number}")
            yield WireField(number, wire_type, int.from_bytes(data[pos : pos + size], "little"))
            pos += size
        else:
            raise ProtobufError(f"unsupported wire type {wire_type} in field {number}")


def _signed(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


# ---------------------------------------------------------------------------------------------------------
# Descriptors

_SCALARS = frozenset({"string", "bytes", "bool", "int32", "int64"})
# Message types with a JSON form of their own (not an object of their fields).
_SPECIAL = frozenset({"Time", "Quantity", "IntOrString", "FieldsV1"})


@dataclass(frozen=True)
class Field:
    """One message field and how Go's encoding/json renders it.

    `pointer`: a Go pointer; present exactly when it was on the wire. `always`: no `omitempty`, so a zero
    value still appears (`null` for unset pointers, lists and maps). `omitzero`: dropped when zero even
    though it is a struct (only `creationTimestamp`). `inline`: an embedded struct whose fields are merged
    into the parent object.
    """

    json: str
    type: str
    repeated: bool = False
    is_map: bool = False
    pointer: bool = False
    always: bool = False
    omitzero: bool = False
    inline: bool = False

    @property
    def is_message(self) -> bool:
        return self.type not in _SCALARS


@dataclass(frozen=True)
class Message:
    name: str
    package: str
    fields: Mapping[int, Field]


def _parse_spec(spec: str) -> Field:
    """`name[:type][flags]` → Field.

    type: a scalar (string, bytes, bool, int32, int64), a message name, `[T]` for a list or `{T}` for a map
    with string keys; string when omitted. Flags, at the end: `*` pointer, `!` always, `?` omitzero,
    `^` inline.
    """
    body = spec.rstrip("*!?^")
    flags = spec[len(body) :]
    name, _, type_ = body.partition(":")
    type_ = type_ or "string"
    repeated = type_.startswith("[") and type_.endswith("]")
    is_map = type_.startswith("{") and type_.endswith("}")
    if repeated or is_map:
        type_ = type_[1:-1]
    return Field(name, type_, repeated, is_map, "*" in flags, "!" in flags, "?" in flags, "^" in flags)


_META = {
    "ObjectMeta": {
        1: "name",
        2: "generateName",
        3: "namespace",
        4: "selfLink",
        5: "uid",
        6: "resourceVersion",
        7: "generation:int64",
        8: "creationTimestamp:Time?",
        9: "deletionTimestamp:Time*",
        10: "deletionGracePeriodSeconds:int64*",
        11: "labels:{string}",
        12: "annotations:{string}",
        13: "ownerReferences:[OwnerReference]",
        14: "finalizers:[string]",
        17: "managedFields:[ManagedFieldsEntry]",
    },
    "OwnerReference": {
        5: "apiVersion!",
        1: "kind!",
        3: "name!",
        4: "uid!",
        6: "controller:bool*",
        7: "blockOwnerDeletion:bool*",
    },
    "LabelSelector": {1: "matchLabels:{string}", 2: "matchExpressions:[LabelSelectorRequirement]"},
    "LabelSelectorRequirement": {1: "key!", 2: "operator!", 3: "values:[string]"},
    "ManagedFieldsEntry": {
        1: "manager",
        2: "operation",
        3: "apiVersion",
        4: "time:Time*",
        6: "fieldsType",
        7: "fieldsV1:FieldsV1*",
        8: "subresource",
    },
    "Condition": {
        1: "type!",
        2: "status!",
        3: "observedGeneration:int64",
        4: "lastTransitionTime:Time!",
        5: "reason!",
        6: "message!",
    },
}

_CORE = {
    # Objects
    "ConfigMap": {
        1: "metadata:ObjectMeta",
        4: "immutable:bool*",
        2: "data:{string}",
        3: "binaryData:{bytes}",
    },
    "Secret": {
        1: "metadata:ObjectMeta",
        5: "immutable:bool*",
        2: "data:{bytes}",
        4: "stringData:{string}",
        3: "type",
    },
    "Namespace": {1: "metadata:ObjectMeta", 2: "spec:NamespaceSpec", 3: "status:NamespaceStatus"},
    "NamespaceSpec": {1: "finalizers:[string]"},
    "NamespaceStatus": {1: "phase", 2: "conditions:[NamespaceCondition]"},
    "NamespaceCondition": {
        1: "type!",
        2: "status!",
        4: "lastTransitionTime:Time",
        5: "reason",
        6: "message",
    },
    "ServiceAccount": {
        1: "metadata:ObjectMeta",
        2: "secrets:[ObjectReference]",
        3: "imagePullSecrets:[LocalObjectReference]",
        4: "automountServiceAccountToken:bool*",
    },
    "Service": {1: "metadata:ObjectMeta", 2: "spec:ServiceSpec", 3: "status:ServiceStatus"},
    "ServiceSpec": {
        1: "ports:[ServicePort]",
        2: "selector:{string}",
        3: "clusterIP",
        18: "clusterIPs:[string]",
        4: "type",
        5: "externalIPs:[string]",
        7: "sessionAffinity",
        8: "loadBalancerIP",
        9: "loadBalancerSourceRanges:[string]",
        10: "externalName",
        11: "externalTrafficPolicy",
        12: "healthCheckNodePort:int32",
        13: "publishNotReadyAddresses:bool",
        14: "sessionAffinityConfig:SessionAffinityConfig*",
        19: "ipFamilies:[string]",
        17: "ipFamilyPolicy*",
        20: "allocateLoadBalancerNodePorts:bool*",
        21: "loadBalancerClass*",
        22: "internalTrafficPolicy*",
        23: "trafficDistribution*",
    },
    "ServicePort": {
        1: "name",
        2: "protocol",
        6: "appProtocol*",
        3: "port:int32!",
        4: "targetPort:IntOrString",
        5: "nodePort:int32",
    },
    "SessionAffinityConfig": {1: "clientIP:ClientIPConfig*"},
    "ClientIPConfig": {1: "timeoutSeconds:int32*"},
    "ServiceStatus": {1: "loadBalancer:LoadBalancerStatus", 2: "conditions:[Condition]"},
    "LoadBalancerStatus": {1: "ingress:[LoadBalancerIngress]"},
    "LoadBalancerIngress": {1: "ip", 2: "hostname", 3: "ipMode*", 4: "ports:[PortStatus]"},
    "PortStatus": {1: "port:int32!", 2: "protocol!", 3: "error*"},
    "Pod": {1: "metadata:ObjectMeta", 2: "spec:PodSpec", 3: "status:PodStatus"},
    "PodStatus": {
        17: "observedGeneration:int64",
        1: "phase",
        2: "conditions:[PodCondition]",
        3: "message",
        4: "reason",
        11: "nominatedNodeName",
        5: "hostIP",
        16: "hostIPs:[HostIP]",
        6: "podIP",
        12: "podIPs:[PodIP]",
        7: "startTime:Time*",
        9: "qosClass",
        14: "resize",
        8: "containerStatuses:[ContainerStatus]",
        10: "initContainerStatuses:[ContainerStatus]",
        13: "ephemeralContainerStatuses:[ContainerStatus]",
        15: "resourceClaimStatuses:[PodResourceClaimStatus]",
        18: "extendedResourceClaimStatus:PodExtendedResourceClaimStatus*",
        19: "allocatedResources:{Quantity}",
        20: "resources:ResourceRequirements*",
        21: "nodeAllocatableResourceClaimStatuses:[NodeAllocatableResourceClaimStatus]",
        22: "volumeHealth:[PodVolumeHealth]",
    },
    "PodCondition": {
        1: "type!",
        7: "observedGeneration:int64",
        2: "status!",
        3: "lastProbeTime:Time",
        4: "lastTransitionTime:Time",
        5: "reason",
        6: "message",
    },
    "HostIP": {1: "ip!"},
    "PodIP": {1: "ip!"},
    # References
    "ObjectReference": {
        1: "kind",
        2: "namespace",
        3: "name",
        4: "uid",
        5: "apiVersion",
        6: "resourceVersion",
        7: "fieldPath",
    },
    "LocalObjectReference": {1: "name"},
    "TypedLocalObjectReference": {1: "apiGroup*!", 2: "kind!", 3: "name!"},
    "TypedObjectReference": {1: "apiGroup*!", 2: "kind!", 3: "name!", 4: "namespace*"},
    # Pod template and spec
    "PodTemplateSpec": {1: "metadata:ObjectMeta", 2: "spec:PodSpec"},
    "PodSpec": {
        1: "volumes:[Volume]",
        20: "initContainers:[Container]",
        2: "containers:[Container]!",
        34: "ephemeralContainers:[EphemeralContainer]",
        3: "restartPolicy",
        4: "terminationGracePeriodSeconds:int64*",
        5: "activeDeadlineSeconds:int64*",
        6: "dnsPolicy",
        7: "nodeSelector:{string}",
        8: "serviceAccountName",
        9: "serviceAccount",
        21: "automountServiceAccountToken:bool*",
        10: "nodeName",
        11: "hostNetwork:bool",
        12: "hostPID:bool",
        13: "hostIPC:bool",
        27: "shareProcessNamespace:bool*",
        14: "securityContext:PodSecurityContext*",
        15: "imagePullSecrets:[LocalObjectReference]",
        16: "hostname",
        17: "subdomain",
        18: "affinity:Affinity*",
        19: "schedulerName",
        22: "tolerations:[Toleration]",
        23: "hostAliases:[HostAlias]",
        24: "priorityClassName",
        25: "priority:int32*",
        26: "dnsConfig:PodDNSConfig*",
        28: "readinessGates:[PodReadinessGate]",
        29: "runtimeClassName*",
        30: "enableServiceLinks:bool*",
        31: "preemptionPolicy*",
        32: "overhead:{Quantity}",
        33: "topologySpreadConstraints:[TopologySpreadConstraint]",
        35: "setHostnameAsFQDN:bool*",
        36: "os:PodOS*",
        37: "hostUsers:bool*",
        38: "schedulingGates:[PodSchedulingGate]",
        39: "resourceClaims:[PodResourceClaim]",
        40: "resources:ResourceRequirements*",
        41: "hostnameOverride*",
        43: "schedulingGroup:PodSchedulingGroup*",
        44: "evictionResponders:[EvictionResponder]",
    },
    "Container": {
        1: "name!",
        2: "image",
        3: "command:[string]",
        4: "args:[string]",
        5: "workingDir",
        6: "ports:[ContainerPort]",
        19: "envFrom:[EnvFromSource]",
        7: "env:[EnvVar]",
        8: "resources:ResourceRequirements",
        23: "resizePolicy:[ContainerResizePolicy]",
        24: "restartPolicy*",
        25: "restartPolicyRules:[ContainerRestartRule]",
        9: "volumeMounts:[VolumeMount]",
        21: "volumeDevices:[VolumeDevice]",
        10: "livenessProbe:Probe*",
        11: "readinessProbe:Probe*",
        22: "startupProbe:Probe*",
        12: "lifecycle:Lifecycle*",
        13: "terminationMessagePath",
        20: "terminationMessagePolicy",
        14: "imagePullPolicy",
        15: "securityContext:SecurityContext*",
        16: "stdin:bool",
        17: "stdinOnce:bool",
        18: "tty:bool",
    },
    "EphemeralContainer": {1: "ephemeralContainerCommon:Container^", 2: "targetContainerName"},
    "ContainerPort": {1: "name", 2: "hostPort:int32", 3: "containerPort:int32!", 4: "protocol", 5: "hostIP"},
    "ContainerResizePolicy": {1: "resourceName!", 2: "restartPolicy!"},
    "ContainerRestartRule": {1: "action", 2: "exitCodes:ContainerRestartRuleOnExitCodes*"},
    "ContainerRestartRuleOnExitCodes": {1: "operator", 2: "values:[int32]"},
    "EnvFromSource": {1: "prefix", 2: "configMapRef:ConfigMapEnvSource*", 3: "secretRef:SecretEnvSource*"},
    "ConfigMapEnvSource": {1: "localObjectReference:LocalObjectReference^", 2: "optional:bool*"},
    "SecretEnvSource": {1: "localObjectReference:LocalObjectReference^", 2: "optional:bool*"},
    "EnvVar": {1: "name!", 2: "value", 3: "valueFrom:EnvVarSource*"},
    "EnvVarSource": {
        1: "fieldRef:ObjectFieldSelector*",
        2: "resourceFieldRef:ResourceFieldSelector*",
        3: "configMapKeyRef:ConfigMapKeySelector*",
        4: "secretKeyRef:SecretKeySelector*",
        5: "fileKeyRef:FileKeySelector*",
    },
    "ObjectFieldSelector": {1: "apiVersion", 2: "fieldPath!"},
    "ResourceFieldSelector": {1: "containerName", 2: "resource!", 3: "divisor:Quantity"},
    "ConfigMapKeySelector": {1: "localObjectReference:LocalObjectReference^", 2: "key!", 3: "optional:bool*"},
    "SecretKeySelector": {1: "localObjectReference:LocalObjectReference^", 2: "key!", 3: "optional:bool*"},
    "FileKeySelector": {1: "volumeName!", 2: "path!", 3: "key!", 4: "optional:bool*"},
    "ResourceRequirements": {1: "limits:{Quantity}", 2: "requests:{Quantity}", 3: "claims:[ResourceClaim]"},
    "ResourceClaim": {1: "name!", 2: "request"},
    "VolumeMount": {
        1: "name!",
        2: "readOnly:bool",
        7: "recursiveReadOnly*",
        3: "mountPath!",
        4: "subPath",
        5: "mountPropagation*",
        6: "subPathExpr",
        8: "bindMountOptions:[string]",
    },
    "VolumeDevice": {1: "name!", 2: "devicePath!"},
    "Probe": {
        1: "handler:ProbeHandler^",
        2: "initialDelaySeconds:int32",
        3: "timeoutSeconds:int32",
        4: "periodSeconds:int32",
        5: "successThreshold:int32",
        6: "failureThreshold:int32",
        7: "terminationGracePeriodSeconds:int64*",
    },
    "ProbeHandler": {
        1: "exec:ExecAction*",
        2: "httpGet:HTTPGetAction*",
        3: "tcpSocket:TCPSocketAction*",
        4: "grpc:GRPCAction*",
    },
    "ExecAction": {1: "command:[string]"},
    "HTTPGetAction": {
        1: "path",
        2: "port:IntOrString",
        3: "host",
        4: "scheme",
        5: "httpHeaders:[HTTPHeader]",
        6: "protocol*",
    },
    "HTTPHeader": {1: "name!", 2: "value!"},
    "TCPSocketAction": {1: "port:IntOrString", 2: "host"},
    "GRPCAction": {
        1: "port:int32!",
        2: "service*!",
        3: "mode*",
    },
    "Lifecycle": {1: "postStart:LifecycleHandler*", 2: "preStop:LifecycleHandler*", 3: "stopSignal*"},
    "LifecycleHandler": {
        1: "exec:ExecAction*",
        2: "httpGet:HTTPGetAction*",
        3: "tcpSocket:TCPSocketAction*",
        4: "sleep:SleepAction*",
    },
    "SleepAction": {1: "seconds:int64!"},
    "SecurityContext": {
        1: "capabilities:Capabilities*",
        2: "privileged:bool*",
        3: "seLinuxOptions:SELinuxOptions*",
        10: "windowsOptions:WindowsSecurityContextOptions*",
        4: "runAsUser:int64*",
        8: "runAsGroup:int64*",
        5: "runAsNonRoot:bool*",
        6: "readOnlyRootFilesystem:bool*",
        7: "allowPrivilegeEscalation:bool*",
        9: "procMount*",
        11: "seccompProfile:SeccompProfile*",
        12: "appArmorProfile:AppArmorProfile*",
    },
    "Capabilities": {1: "add:[string]", 2: "drop:[string]"},
    "SELinuxOptions": {1: "user", 2: "role", 3: "type", 4: "level"},
    "WindowsSecurityContextOptions": {
        1: "gmsaCredentialSpecName*",
        2: "gmsaCredentialSpec*",
        3: "runAsUserName*",
        4: "hostProcess:bool*",
    },
    "SeccompProfile": {1: "type!", 2: "localhostProfile*"},
    "AppArmorProfile": {1: "type!", 2: "localhostProfile*"},
    "PodSecurityContext": {
        1: "seLinuxOptions:SELinuxOptions*",
        8: "windowsOptions:WindowsSecurityContextOptions*",
        2: "runAsUser:int64*",
        6: "runAsGroup:int64*",
        3: "runAsNonRoot:bool*",
        4: "supplementalGroups:[int64]",
        12: "supplementalGroupsPolicy*",
        5: "fsGroup:int64*",
        7: "sysctls:[Sysctl]",
        9: "fsGroupChangePolicy*",
        10: "seccompProfile:SeccompProfile*",
        11: "appArmorProfile:AppArmorProfile*",
        13: "seLinuxChangePolicy*",
    },
    "Sysctl": {1: "name!", 2: "value!"},
    "Affinity": {
        1: "nodeAffinity:NodeAffinity*",
        2: "podAffinity:PodAffinity*",
        3: "podAntiAffinity:PodAntiAffinity*",
    },
    "NodeAffinity": {
        1: "requiredDuringSchedulingIgnoredDuringExecution:NodeSelector*",
        2: "preferredDuringSchedulingIgnoredDuringExecution:[PreferredSchedulingTerm]",
    },
    "NodeSelector": {1: "nodeSelectorTerms:[NodeSelectorTerm]!"},
    "NodeSelectorTerm": {
        1: "matchExpressions:[NodeSelectorRequirement]",
        2: "matchFields:[NodeSelectorRequirement]",
    },
    "NodeSelectorRequirement": {1: "key!", 2: "operator!", 3: "values:[string]"},
    "PreferredSchedulingTerm": {1: "weight:int32!", 2: "preference:NodeSelectorTerm"},
    "PodAffinity": {
        1: "requiredDuringSchedulingIgnoredDuringExecution:[PodAffinityTerm]",
        2: "preferredDuringSchedulingIgnoredDuringExecution:[WeightedPodAffinityTerm]",
    },
    "PodAntiAffinity": {
        1: "requiredDuringSchedulingIgnoredDuringExecution:[PodAffinityTerm]",
        2: "preferredDuringSchedulingIgnoredDuringExecution:[WeightedPodAffinityTerm]",
    },
    "PodAffinityTerm": {
        1: "labelSelector:LabelSelector*",
        2: "namespaces:[string]",
        3: "topologyKey!",
        4: "namespaceSelector:LabelSelector*",
        5: "matchLabelKeys:[string]",
        6: "mismatchLabelKeys:[string]",
    },
    "WeightedPodAffinityTerm": {1: "weight:int32!", 2: "podAffinityTerm:PodAffinityTerm"},
    "Toleration": {1: "key", 2: "operator", 3: "value", 4: "effect", 5: "tolerationSeconds:int64*"},
    "HostAlias": {1: "ip!", 2: "hostnames:[string]"},
    "PodDNSConfig": {1: "nameservers:[string]", 2: "searches:[string]", 3: "options:[PodDNSConfigOption]"},
    "PodDNSConfigOption": {1: "name", 2: "value*"},
    "PodReadinessGate": {1: "conditionType!"},
    "TopologySpreadConstraint": {
        1: "maxSkew:int32!",
        2: "topologyKey!",
        3: "whenUnsatisfiable!",
        4: "labelSelector:LabelSelector*",
        5: "minDomains:int32*",
        6: "nodeAffinityPolicy*",
        7: "nodeTaintsPolicy*",
        8: "matchLabelKeys:[string]",
    },
    "PodOS": {1: "name!"},
    "PodSchedulingGate": {1: "name!"},
    "PodResourceClaim": {1: "name!", 3: "resourceClaimName*", 4: "resourceClaimTemplateName*"},
    # Volumes
    "Volume": {1: "name!", 2: "volumeSource:VolumeSource^"},
    "VolumeSource": {
        1: "hostPath:HostPathVolumeSource*",
        2: "emptyDir:EmptyDirVolumeSource*",
        5: "gitRepo:GitRepoVolumeSource*",
        6: "secret:SecretVolumeSource*",
        7: "nfs:NFSVolumeSource*",
        10: "persistentVolumeClaim:PersistentVolumeClaimVolumeSource*",
        16: "downwardAPI:DownwardAPIVolumeSource*",
        19: "configMap:ConfigMapVolumeSource*",
        26: "projected:ProjectedVolumeSource*",
        28: "csi:CSIVolumeSource*",
        29: "ephemeral:EphemeralVolumeSource*",
        30: "image:ImageVolumeSource*",
        3: "gcePersistentDisk:GCEPersistentDiskVolumeSource*",
        4: "awsElasticBlockStore:AWSElasticBlockStoreVolumeSource*",
        8: "iscsi:ISCSIVolumeSource*",
        9: "glusterfs:GlusterfsVolumeSource*",
        11: "rbd:RBDVolumeSource*",
        12: "flexVolume:FlexVolumeSource*",
        13: "cinder:CinderVolumeSource*",
        14: "cephfs:CephFSVolumeSource*",
        15: "flocker:FlockerVolumeSource*",
        17: "fc:FCVolumeSource*",
        18: "azureFile:AzureFileVolumeSource*",
        20: "vsphereVolume:VsphereVirtualDiskVolumeSource*",
        21: "quobyte:QuobyteVolumeSource*",
        22: "azureDisk:AzureDiskVolumeSource*",
        23: "photonPersistentDisk:PhotonPersistentDiskVolumeSource*",
        24: "portworxVolume:PortworxVolumeSource*",
        25: "scaleIO:ScaleIOVolumeSource*",
        27: "storageos:StorageOSVolumeSource*",
    },
    "HostPathVolumeSource": {1: "path!", 2: "type*"},
    "EmptyDirVolumeSource": {
        1: "medium",
        2: "sizeLimit:Quantity*",
        3: "mode:int32*",
    },
    "GitRepoVolumeSource": {1: "repository!", 2: "revision", 3: "directory"},
    "SecretVolumeSource": {
        1: "secretName",
        2: "items:[KeyToPath]",
        3: "defaultMode:int32*",
        4: "optional:bool*",
        5: "defaultUser:int64*",
    },
    "KeyToPath": {
        1: "key!",
        2: "path!",
        3: "mode:int32*",
        4: "user:int64*",
    },
    "NFSVolumeSource": {1: "server!", 2: "path!", 3: "readOnly:bool"},
    "PersistentVolumeClaimVolumeSource": {1: "claimName!", 2: "readOnly:bool"},
    "DownwardAPIVolumeSource": {
        1: "items:[DownwardAPIVolumeFile]",
        2: "defaultMode:int32*",
        3: "defaultUser:int64*",
    },
    "DownwardAPIVolumeFile": {
        1: "path!",
        2: "fieldRef:ObjectFieldSelector*",
        3: "resourceFieldRef:ResourceFieldSelector*",
        4: "mode:int32*",
        5: "user:int64*",
    },
    "ConfigMapVolumeSource": {
        1: "localObjectReference:LocalObjectReference^",
        2: "items:[KeyToPath]",
        3: "defaultMode:int32*",
        4: "optional:bool*",
        5: "defaultUser:int64*",
    },
    "ProjectedVolumeSource": {
        1: "sources:[VolumeProjection]!",
        2: "defaultMode:int32*",
        3: "defaultUser:int64*",
    },
    "VolumeProjection": {
        1: "secret:SecretProjection*",
        2: "downwardAPI:DownwardAPIProjection*",
        3: "configMap:ConfigMapProjection*",
        4: "serviceAccountToken:ServiceAccountTokenProjection*",
        5: "clusterTrustBundle:ClusterTrustBundleProjection*",
        6: "podCertificate:PodCertificateProjection*",
    },
    "SecretProjection": {
        1: "localObjectReference:LocalObjectReference^",
        2: "items:[KeyToPath]",
        4: "optional:bool*",
    },
    "ConfigMapProjection": {
        1: "localObjectReference:LocalObjectReference^",
        2: "items:[KeyToPath]",
        4: "optional:bool*",
    },
    "DownwardAPIProjection": {1: "items:[DownwardAPIVolumeFile]"},
    "ServiceAccountTokenProjection": {
        1: "audience",
        2: "expirationSeconds:int64*",
        3: "path!",
        4: "user:int64*",
    },
    "ClusterTrustBundleProjection": {
        1: "name*",
        2: "signerName*",
        3: "labelSelector:LabelSelector*",
        5: "optional:bool*",
        4: "path!",
        6: "user:int64*",
    },
    "PodCertificateProjection": {
        1: "signerName",
        2: "keyType",
        3: "maxExpirationSeconds:int32*",
        4: "credentialBundlePath",
        5: "keyPath",
        6: "certificateChainPath",
        7: "userAnnotations:{string}",
        8: "user:int64*",
    },
    "CSIVolumeSource": {
        1: "driver!",
        2: "readOnly:bool*",
        3: "fsType*",
        4: "volumeAttributes:{string}",
        5: "nodePublishSecretRef:LocalObjectReference*",
    },
    "EphemeralVolumeSource": {1: "volumeClaimTemplate:PersistentVolumeClaimTemplate*"},
    "PersistentVolumeClaimTemplate": {1: "metadata:ObjectMeta", 2: "spec:PersistentVolumeClaimSpec"},
    "PersistentVolumeClaimSpec": {
        1: "accessModes:[string]",
        4: "selector:LabelSelector*",
        2: "resources:VolumeResourceRequirements",
        3: "volumeName",
        5: "storageClassName*",
        6: "volumeMode*",
        7: "dataSource:TypedLocalObjectReference*",
        8: "dataSourceRef:TypedObjectReference*",
        9: "volumeAttributesClassName*",
    },
    "VolumeResourceRequirements": {1: "limits:{Quantity}", 2: "requests:{Quantity}"},
    "ImageVolumeSource": {1: "reference", 2: "pullPolicy"},
    # Pod status
    "ContainerStatus": {
        1: "name!",
        2: "state:ContainerState",
        3: "lastState:ContainerState",
        4: "ready:bool!",
        5: "restartCount:int32!",
        6: "image!",
        7: "imageID!",
        8: "containerID",
        9: "started:bool*",
        10: "allocatedResources:{Quantity}",
        11: "resources:ResourceRequirements*",
        12: "volumeMounts:[VolumeMountStatus]",
        13: "user:ContainerUser*",
        14: "allocatedResourcesStatus:[ResourceStatus]",
        15: "stopSignal*",
    },
    "ContainerState": {
        1: "waiting:ContainerStateWaiting*",
        2: "running:ContainerStateRunning*",
        3: "terminated:ContainerStateTerminated*",
    },
    "ContainerStateWaiting": {1: "reason", 2: "message"},
    "ContainerStateRunning": {1: "startedAt:Time"},
    "ContainerStateTerminated": {
        1: "exitCode:int32!",
        2: "signal:int32",
        3: "reason",
        4: "message",
        5: "startedAt:Time",
        6: "finishedAt:Time",
        7: "containerID",
    },
    "VolumeMountStatus": {
        1: "name!",
        2: "mountPath!",
        3: "readOnly:bool",
        4: "recursiveReadOnly*",
        5: "volumeStatus:VolumeStatus*",
    },
    "VolumeStatus": {1: "image:ImageVolumeStatus*"},
    "ImageVolumeStatus": {1: "imageRef"},
    "ContainerUser": {1: "linux:LinuxContainerUser*"},
    "LinuxContainerUser": {1: "uid:int64!", 2: "gid:int64!", 3: "supplementalGroups:[int64]"},
    "ResourceStatus": {1: "name!", 2: "resources:[ResourceHealth]"},
    "ResourceHealth": {1: "resourceID!", 2: "health", 6: "message*"},
    "PodResourceClaimStatus": {1: "name!", 2: "resourceClaimName*"},
    "PodExtendedResourceClaimStatus": {
        1: "requestMappings:[ContainerExtendedResourceRequest]!",
        2: "resourceClaimName!",
    },
    "ContainerExtendedResourceRequest": {1: "containerName!", 2: "resourceName!", 3: "requestName!"},
    "NodeAllocatableResourceClaimStatus": {
        1: "resourceClaimName!",
        2: "containers:[string]",
        4: "mapping:[NodeAllocatableMappedResources]",
        5: "overhead:[NodeAllocatableOverheadResources]",
    },
    "NodeAllocatableMappedResources": {1: "name!", 2: "quantity:Quantity*!"},
    "NodeAllocatableOverheadResources": {1: "name!", 2: "perPod:Quantity*", 3: "perContainer:Quantity*"},
    "PodVolumeHealth": {
        1: "name!",
        2: "healthConditions:[VolumeHealthCondition]",
        3: "lastTransitionTime:Time",
    },
    "VolumeHealthCondition": {1: "status!", 2: "reason!", 3: "message"},
    # Scheduling
    "PodSchedulingGroup": {1: "podGroupName*"},
    "EvictionResponder": {1: "name!", 2: "priority:int32*!"},
    # In-tree volume plugins
    "GCEPersistentDiskVolumeSource": {1: "pdName!", 2: "fsType", 3: "partition:int32", 4: "readOnly:bool"},
    "AWSElasticBlockStoreVolumeSource": {
        1: "volumeID!",
        2: "fsType",
        3: "partition:int32",
        4: "readOnly:bool",
    },
    "ISCSIVolumeSource": {
        1: "targetPortal!",
        2: "iqn!",
        3: "lun:int32!",
        4: "iscsiInterface",
        5: "fsType",
        6: "readOnly:bool",
        7: "portals:[string]",
        8: "chapAuthDiscovery:bool",
        11: "chapAuthSession:bool",
        10: "secretRef:LocalObjectReference*",
        12: "initiatorName*",
    },
    "GlusterfsVolumeSource": {1: "endpoints!", 2: "path!", 3: "readOnly:bool"},
    "RBDVolumeSource": {
        1: "monitors:[string]!",
        2: "image!",
        3: "fsType",
        4: "pool",
        5: "user",
        6: "keyring",
        7: "secretRef:LocalObjectReference*",
        8: "readOnly:bool",
    },
    "FlexVolumeSource": {
        1: "driver!",
        2: "fsType",
        3: "secretRef:LocalObjectReference*",
        4: "readOnly:bool",
        5: "options:{string}",
    },
    "CinderVolumeSource": {
        1: "volumeID!",
        2: "fsType",
        3: "readOnly:bool",
        4: "secretRef:LocalObjectReference*",
    },
    "CephFSVolumeSource": {
        1: "monitors:[string]!",
        2: "path",
        3: "user",
        4: "secretFile",
        5: "secretRef:LocalObjectReference*",
        6: "readOnly:bool",
    },
    "FlockerVolumeSource": {1: "datasetName", 2: "datasetUUID"},
    "FCVolumeSource": {
        1: "targetWWNs:[string]",
        2: "lun:int32*",
        3: "fsType",
        4: "readOnly:bool",
        5: "wwids:[string]",
    },
    "AzureFileVolumeSource": {1: "secretName!", 2: "shareName!", 3: "readOnly:bool"},
    "VsphereVirtualDiskVolumeSource": {
        1: "volumePath!",
        2: "fsType",
        3: "storagePolicyName",
        4: "storagePolicyID",
    },
    "QuobyteVolumeSource": {
        1: "registry!",
        2: "volume!",
        3: "readOnly:bool",
        4: "user",
        5: "group",
        6: "tenant",
    },
    "AzureDiskVolumeSource": {
        1: "diskName!",
        2: "diskURI!",
        3: "cachingMode*",
        4: "fsType*",
        5: "readOnly:bool*",
        6: "kind*",
    },
    "PhotonPersistentDiskVolumeSource": {1: "pdID!", 2: "fsType"},
    "PortworxVolumeSource": {1: "volumeID!", 2: "fsType", 3: "readOnly:bool"},
    "ScaleIOVolumeSource": {
        1: "gateway!",
        2: "system!",
        3: "secretRef:LocalObjectReference*!",
        4: "sslEnabled:bool",
        5: "protectionDomain",
        6: "storagePool",
        7: "storageMode",
        8: "volumeName",
        9: "fsType",
        10: "readOnly:bool",
    },
    "StorageOSVolumeSource": {
        1: "volumeName",
        2: "volumeNamespace",
        3: "fsType",
        4: "readOnly:bool",
        5: "secretRef:LocalObjectReference*",
    },
}

_APPS = {
    "Deployment": {1: "metadata:ObjectMeta", 2: "spec:DeploymentSpec", 3: "status:DeploymentStatus"},
    "DeploymentSpec": {
        1: "replicas:int32*",
        2: "selector:LabelSelector*!",
        3: "template:PodTemplateSpec",
        4: "strategy:DeploymentStrategy",
        5: "minReadySeconds:int32",
        6: "revisionHistoryLimit:int32*",
        7: "paused:bool",
        9: "progressDeadlineSeconds:int32*",
    },
    "DeploymentStrategy": {1: "type", 2: "rollingUpdate:RollingUpdateDeployment*"},
    "RollingUpdateDeployment": {1: "maxUnavailable:IntOrString*", 2: "maxSurge:IntOrString*"},
    "DeploymentStatus": {
        1: "observedGeneration:int64",
        2: "replicas:int32",
        3: "updatedReplicas:int32",
        7: "readyReplicas:int32",
        4: "availableReplicas:int32",
        5: "unavailableReplicas:int32",
        9: "terminatingReplicas:int32*",
        6: "conditions:[DeploymentCondition]",
        8: "collisionCount:int32*",
    },
    "DeploymentCondition": {
        1: "type!",
        2: "status!",
        6: "lastUpdateTime:Time",
        7: "lastTransitionTime:Time",
        4: "reason",
        5: "message",
    },
}

_BATCH = {
    "Job": {1: "metadata:ObjectMeta", 2: "spec:JobSpec", 3: "status:JobStatus"},
    "JobSpec": {
        1: "parallelism:int32*",
        2: "completions:int32*",
        3: "activeDeadlineSeconds:int64*",
        11: "podFailurePolicy:PodFailurePolicy*",
        16: "successPolicy:SuccessPolicy*",
        7: "backoffLimit:int32*",
        12: "backoffLimitPerIndex:int32*",
        13: "maxFailedIndexes:int32*",
        4: "selector:LabelSelector*",
        5: "manualSelector:bool*",
        6: "template:PodTemplateSpec",
        8: "ttlSecondsAfterFinished:int32*",
        9: "completionMode*",
        10: "suspend:bool*",
        14: "podReplacementPolicy*",
        15: "managedBy*",
        17: "scheduling:JobSchedulingConfiguration*",
    },
    "JobStatus": {
        1: "conditions:[JobCondition]",
        2: "startTime:Time*",
        3: "completionTime:Time*",
        4: "active:int32",
        5: "succeeded:int32",
        6: "failed:int32",
        11: "terminating:int32*",
        7: "completedIndexes",
        10: "failedIndexes*",
        8: "uncountedTerminatedPods:UncountedTerminatedPods*",
        9: "ready:int32*",
    },
    "JobCondition": {
        1: "type!",
        2: "status!",
        3: "lastProbeTime:Time",
        4: "lastTransitionTime:Time",
        5: "reason",
        6: "message",
    },
    "PodFailurePolicy": {1: "rules:[PodFailurePolicyRule]!"},
    "PodFailurePolicyRule": {
        1: "action!",
        2: "onExitCodes:PodFailurePolicyOnExitCodesRequirement*",
        3: "onPodConditions:[PodFailurePolicyOnPodConditionsPattern]",
    },
    "PodFailurePolicyOnExitCodesRequirement": {1: "containerName*", 2: "operator!", 3: "values:[int32]!"},
    "PodFailurePolicyOnPodConditionsPattern": {1: "type!", 2: "status!"},
    "SuccessPolicy": {1: "rules:[SuccessPolicyRule]!"},
    "SuccessPolicyRule": {1: "succeededIndexes*", 2: "succeededCount:int32*"},
    "UncountedTerminatedPods": {1: "succeeded:[string]", 2: "failed:[string]"},
    "JobTemplateSpec": {1: "metadata:ObjectMeta", 2: "spec:JobSpec"},
    "CronJob": {1: "metadata:ObjectMeta", 2: "spec:CronJobSpec", 3: "status:CronJobStatus"},
    "CronJobSpec": {
        1: "schedule!",
        8: "timeZone*",
        2: "startingDeadlineSeconds:int64*",
        3: "concurrencyPolicy",
        4: "suspend:bool*",
        5: "jobTemplate:JobTemplateSpec",
        6: "successfulJobsHistoryLimit:int32*",
        7: "failedJobsHistoryLimit:int32*",
    },
    "CronJobStatus": {
        1: "active:[ObjectReference]",
        4: "lastScheduleTime:Time*",
        5: "lastSuccessfulTime:Time*",
    },
    "JobSchedulingConfiguration": {
        1: "schedulingPolicy:WorkloadPodGroupSchedulingPolicy*",
        2: "schedulingConstraints:WorkloadPodGroupSchedulingConstraints*",
        3: "disruptionMode:WorkloadPodGroupDisruptionMode*",
        4: "resourceClaims:[WorkloadPodGroupResourceClaim]",
    },
}

_SCHEDULING = {
    "WorkloadPodGroupSchedulingPolicy": {
        1: "basic:WorkloadPodGroupBasicSchedulingPolicy*",
        2: "gang:WorkloadPodGroupGangSchedulingPolicy*",
    },
    "WorkloadPodGroupBasicSchedulingPolicy": {},
    "WorkloadPodGroupGangSchedulingPolicy": {1: "minCount:int32*"},
    "WorkloadPodGroupSchedulingConstraints": {1: "topology:[TopologyConstraint]"},
    "TopologyConstraint": {1: "key!"},
    "WorkloadPodGroupDisruptionMode": {
        1: "single:WorkloadPodGroupSingleDisruptionMode*",
        2: "all:WorkloadPodGroupAllDisruptionMode*",
    },
    "WorkloadPodGroupSingleDisruptionMode": {},
    "WorkloadPodGroupAllDisruptionMode": {},
    "WorkloadPodGroupResourceClaim": {1: "name!", 2: "resourceClaimName*", 3: "resourceClaimTemplateName*"},
}

_RBAC = {
    "Role": {1: "metadata:ObjectMeta", 2: "rules:[PolicyRule]!"},
    "ClusterRole": {
        1: "metadata:ObjectMeta",
        2: "rules:[PolicyRule]!",
        3: "aggregationRule:AggregationRule*",
    },
    "AggregationRule": {1: "clusterRoleSelectors:[LabelSelector]"},
    "PolicyRule": {
        1: "verbs:[string]!",
        2: "apiGroups:[string]",
        3: "resources:[string]",
        4: "resourceNames:[string]",
        5: "nonResourceURLs:[string]",
    },
    "RoleBinding": {1: "metadata:ObjectMeta", 2: "subjects:[Subject]", 3: "roleRef:RoleRef"},
    "ClusterRoleBinding": {1: "metadata:ObjectMeta", 2: "subjects:[Subject]", 3: "roleRef:RoleRef"},
    "RoleRef": {1: "apiGroup!", 2: "kind!", 3: "name!"},
    "Subject": {1: "kind!", 2: "apiGroup", 3: "name!", 4: "namespace"},
}

_NETWORKING = {
    "Ingress": {1: "metadata:ObjectMeta", 2: "spec:IngressSpec", 3: "status:IngressStatus"},
    "IngressSpec": {
        4: "ingressClassName*",
        1: "defaultBackend:IngressBackend*",
        2: "tls:[IngressTLS]",
        3: "rules:[IngressRule]",
    },
    "IngressBackend": {4: "service:IngressServiceBackend*", 3: "resource:TypedLocalObjectReference*"},
    "IngressServiceBackend": {1: "name!", 2: "port:ServiceBackendPort"},
    "ServiceBackendPort": {1: "name", 2: "number:int32"},
    "IngressTLS": {1: "hosts:[string]", 2: "secretName"},
    "IngressRule": {1: "host", 2: "ingressRuleValue:IngressRuleValue^"},
    "IngressRuleValue": {1: "http:HTTPIngressRuleValue*"},
    "HTTPIngressRuleValue": {1: "paths:[HTTPIngressPath]!"},
    "HTTPIngressPath": {1: "path", 3: "pathType*!", 2: "backend:IngressBackend"},
    "IngressStatus": {1: "loadBalancer:IngressLoadBalancerStatus"},
    "IngressLoadBalancerStatus": {1: "ingress:[IngressLoadBalancerIngress]"},
    "IngressLoadBalancerIngress": {1: "ip", 2: "hostname", 4: "ports:[IngressPortStatus]"},
    "IngressPortStatus": {1: "port:int32!", 2: "protocol!", 3: "error*"},
}

_PACKAGES = {
    "io.k8s.apimachinery.pkg.apis.meta.v1": _META,
    "io.k8s.api.core.v1": _CORE,
    "io.k8s.api.apps.v1": _APPS,
    "io.k8s.api.batch.v1": _BATCH,
    "io.k8s.api.scheduling.v1alpha3": _SCHEDULING,
    "io.k8s.api.rbac.v1": _RBAC,
    "io.k8s.api.networking.v1": _NETWORKING,
}


def _build_messages() -> dict[str, Message]:
    messages: dict[str, Message] = {}
    for package, specs in _PACKAGES.items():
        for name, fields in specs.items():
            messages[name] = Message(name, package, {number: _parse_spec(spec) for number, spec in fields.items()})
    for message in messages.values():
        for field in message.fields.values():
            if field.is_message and field.type not in messages and field.type not in _SPECIAL:
                raise RuntimeError(f"{message.name}.{field.json} refers to unknown message {field.type}")
    return messages


MESSAGES: Mapping[str, Message] = _build_messages()

# (apiVersion, kind) of every top-level object decode() accepts.
KINDS: Mapping[tuple[str, str], str] = {
    ("v1", "Namespace"): "Namespace",
    ("v1", "ConfigMap"): "ConfigMap",
    ("v1", "Secret"): "Secret",
    ("v1", "Service"): "Service",
    ("v1", "ServiceAccount"): "ServiceAccount",
    ("v1", "Pod"): "Pod",
    ("apps/v1", "Deployment"): "Deployment",
    ("batch/v1", "Job"): "Job",
    ("batch/v1", "CronJob"): "CronJob",
    ("rbac.authorization.k8s.io/v1", "Role"): "Role",
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): "RoleBinding",
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): "ClusterRole",
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): "ClusterRoleBinding",
    ("networking.k8s.io/v1", "Ingress"): "Ingress",
}


# ---------------------------------------------------------------------------------------------------------
# Decoding


def decode(body: bytes) -> dict[str, Any]:
    """The object in a `k8s\\x00`-prefixed protobuf body, as the JSON dict kubectl would have sent."""
    if not isinstance(body, bytes | bytearray | memoryview):
        raise ProtobufError(f"protobuf body must be bytes, not {type(body).__name__}")
    body = bytes(body)
    if not body.startswith(MAGIC):
        raise ProtobufError("not a Kubernetes protobuf body: it does not start with the k8s\\x00 magic")
    api_version, kind, raw = _read_envelope(body[len(MAGIC) :])
    message = KINDS.get((api_version, kind))
    if message is None:
        raise ProtobufError(f"cannot decode protobuf for kind {kind!r} in apiVersion {api_version!r}")
    return {"kind": kind, "apiVersion": api_version, **decode_message(message, raw)}


def decode_message(message: str, data: bytes) -> dict[str, Any]:
    """One message's bytes (no magic, no envelope) as a JSON dict, e.g. `decode_message("PodSpec", raw)`."""
    if message not in MESSAGES:
        raise ProtobufError(f"unknown protobuf message {message!r}")
    return _message(MESSAGES[message], bytes(data), message)


def _read_envelope(data: bytes) -> tuple[str, str, bytes]:
    """apiVersion, kind and raw object bytes of a runtime.Unknown."""
    parts: dict[int, bytes] = {}
    for number, wire_type, value in iter_fields(data):
        if number in (1, 2, 3, 4):
            chunk = _need_bytes((wire_type, value), f"protobuf envelope field {number}")
            # Embedded messages merge by concatenation; strings keep the last value.
            parts[number] = parts.get(number, b"") + chunk if number in (1, 2) else chunk
    type_meta = _fields_of(parts.get(1, b""), {1: "string", 2: "string"}, "protobuf envelope type meta")
    api_version, kind = type_meta.get(1, ""), type_meta.get(2, "")
    encoding, content_type = _text(parts.get(3, b"")), _text(parts.get(4, b""))
    if not kind or not api_version:
        raise ProtobufError("bad protobuf envelope: apiVersion and kind are required")
    if encoding:
        raise ProtobufError(f"unsupported protobuf content encoding {encoding!r}")
    if content_type not in ("", MEDIA_TYPE):
        raise ProtobufError(f"unsupported content type {content_type!r} inside the protobuf envelope")
    return api_version, kind, parts.get(2, b"")


# (wire type, value) of one occurrence of a field.
Occurrence = tuple[int, int | bytes]


def _need_bytes(occurrence: Occurrence, path: str) -> bytes:
    wire_type, value = occurrence
    if wire_type != LENGTH_DELIMITED or not isinstance(value, bytes):
        raise ProtobufError(f"{path}: expected a length-delimited value, got wire type {wire_type}")
    return value


def _need_varint(occurrence: Occurrence, path: str) -> int:
    wire_type, value = occurrence
    if wire_type != VARINT or not isinstance(value, int):
        raise ProtobufError(f"{path}: expected a varint, got wire type {wire_type}")
    return value


def _text(value: bytes) -> str:
    # Go keeps invalid UTF-8 in strings and encoding/json writes it as U+FFFD.
    return value.decode("utf-8", errors="replace")


def _fields(data: bytes, path: str) -> Iterator[WireField]:
    """iter_fields, with errors saying where in the object they happened."""
    try:
        yield from iter_fields(data)
    except ProtobufError as error:
        raise ProtobufError(f"{path}: {error}") from None


def _message(message: Message, data: bytes, path: str) -> dict[str, Any]:
    seen: dict[int, list[Occurrence]] = {}
    for number, wire_type, value in _fields(data, path):
        if number in message.fields:
            seen.setdefault(number, []).append((wire_type, value))
    out: dict[str, Any] = {}
    for number, field in message.fields.items():
        _emit(out, field, seen.get(number, []), f"{path}.{field.json}")
    return out


def _emit(out: dict[str, Any], field: Field, occurrences: list[Occurrence], path: str) -> None:
    """Put `field` into `out` as encoding/json would, given its occurrences on the wire."""
    if field.repeated:
        items = [item for index, each in enumerate(occurrences) for item in _items(field, each, f"{path}[{index}]")]
        if items or field.always:
            out[field.json] = items or None
    elif field.is_map:
        # A repeated key keeps its last value; encoding/json sorts map keys.
        entries = dict(_map_entry(field, each, path) for each in occurrences)
        if entries or field.always:
            out[field.json] = dict(sorted(entries.items(), key=lambda entry: entry[0])) or None
    elif not occurrences and field.pointer:
        if field.always:
            out[field.json] = None
    elif field.is_message:
        # Occurrences of an embedded message merge, as if their bytes were concatenated.
        data = b"".join(_need_bytes(each, path) for each in occurrences)
        decoded = _convert_message(field.type, data, path)
        if field.inline and isinstance(decoded, dict):
            out.update(decoded)
        elif decoded is not None or not field.omitzero:
            out[field.json] = decoded
    else:
        value = _scalar(field.type, occurrences[-1], path) if occurrences else _zero(field.type)
        if (occurrences and field.pointer) or field.always or value:
            out[field.json] = value


def _items(field: Field, occurrence: Occurrence, path: str) -> list[Any]:
    """The list items carried by one occurrence: one, or several for a packed number list."""
    if field.type in ("int32", "int64", "bool") and occurrence[0] == LENGTH_DELIMITED:
        data = _need_bytes(occurrence, path)
        items = []
        pos = 0
        while pos < len(data):
            number, pos = read_varint(data, pos)
            items.append(_scalar(field.type, (VARINT, number), path))
        return items
    if field.is_message:
        return [_convert_message(field.type, _need_bytes(occurrence, path), path)]
    return [_scalar(field.type, occurrence, path)]


def _map_entry(field: Field, occurrence: Occurrence, path: str) -> tuple[str, Any]:
    key = ""
    values: list[Occurrence] = []
    for number, wire_type, value in _fields(_need_bytes(occurrence, path), path):
        if number == 1:
            key = _scalar("string", (wire_type, value), f"{path} key")
        elif number == 2:
            values.append((wire_type, value))
    entry_path = f"{path}[{key}]"
    if field.is_message:
        data = b"".join(_need_bytes(each, entry_path) for each in values)
        return key, _convert_message(field.type, data, entry_path)
    return key, _scalar(field.type, values[-1], entry_path) if values else _zero(field.type)


def _scalar(type_: str, occurrence: Occurrence, path: str) -> Any:
    if type_ == "string":
        return _text(_need_bytes(occurrence, path))
    if type_ == "bytes":
        return base64.b64encode(_need_bytes(occurrence, path)).decode("ascii")
    number = _need_varint(occurrence, path)
    if type_ == "bool":
        return number != 0
    return _signed(number, 32 if type_ == "int32" else 64)


def _zero(type_: str) -> Any:
    return {"string": "", "bytes": "", "bool": False}.get(type_, 0)


def _convert_message(type_: str, data: bytes, path: str) -> Any:
    if type_ == "Time":
        return _time(data, path)
    if type_ == "Quantity":
        return _fields_of(data, {1: "string"}, path).get(1) or "0"
    if type_ == "IntOrString":
        found = _fields_of(data, {1: "int64", 2: "int32", 3: "string"}, path)
        return found.get(3, "") if found.get(1, 0) == 1 else found.get(2, 0)
    if type_ == "FieldsV1":
        return _fields_v1(data, path)
    return _message(MESSAGES[type_], data, path)


def _fields_of(data: bytes, types: Mapping[int, str], path: str) -> dict[int, Any]:
    """The last value of each listed scalar field of a small message."""
    found: dict[int, Any] = {}
    for number, wire_type, value in _fields(data, path):
        if number in types:
            found[number] = _scalar(types[number], (wire_type, value), path)
    return found


def _time(data: bytes, path: str) -> str | None:
    """A metav1.Time as RFC 3339 in UTC, or None for Go's zero time.

    Like the real server, only whole seconds are kept: the JSON form has no fractions either.
    """
    if not data:
        return None
    seconds = _fields_of(data, {1: "int64", 2: "int32"}, path).get(1, 0)
    if seconds == _GO_ZERO_TIME:
        return None
    try:
        moment = _EPOCH + dt.timedelta(seconds=seconds)
    except OverflowError as error:
        raise ProtobufError(f"{path}: timestamp {seconds}s is out of range") from error
    return f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}Z"


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# January 1, year 1, UTC: what Go's zero time.Time is in Unix seconds.
_GO_ZERO_TIME = -62135596800


def _fields_v1(data: bytes, path: str) -> Any:
    """Managed fields travel as raw JSON bytes; an empty set is null, as FieldsV1.MarshalJSON writes it."""
    raw = b""
    for number, wire_type, value in _fields(data, path):
        if number == 1:
            raw = _need_bytes((wire_type, value), path)
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as error:
        raise ProtobufError(f"{path}: managed fields are not valid JSON") from error
