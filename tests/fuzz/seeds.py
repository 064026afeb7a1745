#!/usr/bin/env python3
"""Writes the seed inputs of one fuzz target into a folder: `seeds.py TARGET FOLDER`.

Seeds are valid (or nearly valid) examples of what each target reads, so that the fuzzer starts
from the shapes the parsers accept instead of rediscovering JSON, tar or a bzImage byte by byte.
They are made here, as code, rather than stored as binary files."""
import gzip
import io
import json
import struct
import sys
import tarfile
from pathlib import Path

DIGEST = "sha256:" + "ab" * 32


def oci_documents():
    layer = {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": DIGEST,
             "size": 32}
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                           "digest": DIGEST, "size": 7},
                "layers": [layer, dict(layer, mediaType="application/vnd.oci.image.layer.v1.tar")]}
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": [
                 {"mediaType": manifest["mediaType"], "digest": DIGEST, "size": 500,
                  "platform": {"os": "linux", "architecture": "amd64"}},
                 {"mediaType": manifest["mediaType"], "digest": DIGEST, "size": 500,
                  "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"},
                  "annotations": {"org.opencontainers.image.ref.name": "latest"}}]}
    docker_list = dict(index, mediaType="application/vnd.docker.distribution.manifest.list.v2+json")
    config = {"architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
              "config": {"User": "1000:1000", "Env": ["PATH=/bin"], "Entrypoint": ["/bin/sh"],
                         "Cmd": ["-c", "true"], "WorkingDir": "/srv",
                         "ExposedPorts": {"80/tcp": {}}, "Labels": {"a": "b"},
                         "StopSignal": "SIGINT"},
              "rootfs": {"type": "layers", "diff_ids": [DIGEST, DIGEST]}}
    return {"manifest.json": json.dumps(manifest), "index.json": json.dumps(index),
            "docker_list.json": json.dumps(docker_list), "config.json": json.dumps(config),
            "reference": "localhost:5000/team/app:v1.2@" + DIGEST,
            "short_reference": "busybox", "platform": "linux/arm64/v8"}


def task_definition():
    task = {"family": "shop", "cpu": "512", "memory": "256", "networkMode": "awsvpc",
            "containerDefinitions": [
                {"name": "setup", "image": "busybox", "essential": False,
                 "command": ["true"], "environment": [{"name": "A", "value": "1"}]},
                {"name": "web", "image": "busybox", "cpu": 256, "memory": 64,
                 "memoryReservation": 32, "entryPoint": ["sh", "-c"], "command": ["httpd -f"],
                 "portMappings": [{"containerPort": 80, "hostPort": 8080, "protocol": "tcp"}],
                 "dependsOn": [{"containerName": "setup", "condition": "SUCCESS"}],
                 "healthCheck": {"command": ["CMD-SHELL", "wget -q http://127.0.0.1/"],
                                 "interval": 5, "timeout": 2, "retries": 2, "startPeriod": 1},
                 "stopTimeout": 3},
                {"name": "client", "image": "busybox", "command": ["wget", "web"],
                 "dependsOn": [{"containerName": "web", "condition": "HEALTHY"},
                               {"containerName": "setup", "condition": "COMPLETE"}]}]}
    cycle = json.loads(json.dumps(task))
    cycle["containerDefinitions"][0]["dependsOn"] = [{"containerName": "client",
                                                      "condition": "START"}]
    return {"task.json": json.dumps(task), "cycle.json": json.dumps(cycle)}


def runtime_spec():
    spec = {"ociVersion": "1.0.2",
            "process": {"terminal": False, "user": {"uid": 0, "gid": 0, "additionalGids": [5]},
                        "args": ["sh", "-c", "true"], "env": ["PATH=/bin"], "cwd": "/",
                        "capabilities": {"bounding": ["CAP_CHOWN"], "effective": ["CAP_CHOWN"],
                                         "permitted": ["CAP_CHOWN"]},
                        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
                        "noNewPrivileges": True},
            "root": {"path": "rootfs", "readonly": True}, "hostname": "box",
            "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
                       {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
                        "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
                       {"destination": "/data", "type": "bind", "source": "/srv",
                        "options": ["rbind", "ro", "nodev"]}],
            "annotations": {"io.tandem.class": "untrusted"},
            "linux": {"namespaces": [{"type": t} for t in
                                     ("pid", "network", "ipc", "uts", "mount", "cgroup")],
                      "cgroupsPath": "machine.slice:libpod:abc",
                      "resources": {"memory": {"limit": 67108864, "swap": 134217728},
                                    "cpu": {"quota": 50000, "period": 100000, "cpus": "0"},
                                    "pids": {"limit": 64},
                                    "devices": [{"allow": False, "access": "rwm"},
                                                {"allow": True, "type": "c", "major": 1,
                                                 "minor": 3, "access": "rwm"}]},
                      "sysctl": {"net.ipv4.ip_forward": "0"},
                      "seccomp": {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
                                  "architectures": ["SCMP_ARCH_X86_64"],
                                  "syscalls": [{"names": ["read", "write"],
                                                "action": "SCMP_ACT_ALLOW"},
                                               {"names": ["personality"],
                                                "action": "SCMP_ACT_ALLOW",
                                                "args": [{"index": 0, "value": 8,
                                                          "op": "SCMP_CMP_EQ"}]}]},
                      "maskedPaths": ["/proc/kcore"], "readonlyPaths": ["/proc/sys"],
                      "rootfsPropagation": "private"}}
    return {"config.json": json.dumps(spec), "process.json": json.dumps(spec["process"])}


def frame(kind, payload):
    return bytes([kind]) + struct.pack("<I", len(payload)) + payload


def pieces(stream, size):
    out = bytearray()
    for start in range(0, len(stream), size):
        chunk = stream[start:start + size]
        out += bytes([len(chunk) - 1]) + chunk
    return bytes(out)


def agent_protocol():
    workload = json.dumps({"command": ["sh", "-c", "echo hi"], "env": ["A=1"], "workdir": "/",
                           "user": {"uid": 1000, "gid": 1000}, "id": "c1",
                           "limits": {"memoryBytes": 67108864}}).encode()
    exit_report = json.dumps({"exit_code": 3, "guest_memory": {"total_bytes": 1 << 27,
                                                               "available_bytes": 1 << 26}})
    usage = json.dumps({"cpu_nanos": 5, "memory_bytes": 4096, "memory_limit_bytes": 0,
                        "processes": 2})
    frames = (frame(1, workload) + frame(2, b"input") + frame(3, b"") + frame(10, b"15") +
              frame(4, b"out") + frame(5, b"err") + frame(6, exit_report.encode()) +
              frame(12, usage.encode()) + frame(13, b""))
    stdio = b"plain\xff\x02to stderr\xff\x01back\xff\x03\xff\xff"
    return {"frames": b"\x00" + pieces(frames, 7), "frames_whole": b"\x00" + pieces(frames, 256),
            "stdio": b"\x01" + pieces(stdio, 5)}


def tar_bytes(entries, compress=False):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, value in entries:
            info = tarfile.TarInfo(name)
            info.mode = 0o755 if kind == "dir" else 0o644
            data = None
            if kind == "dir":
                info.type = tarfile.DIRTYPE
            elif kind == "file":
                data = value.encode()
                info.size = len(data)
            elif kind == "symlink":
                info.type = tarfile.SYMTYPE
                info.linkname = value
            elif kind == "hardlink":
                info.type = tarfile.LNKTYPE
                info.linkname = value
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    raw = buffer.getvalue()
    return gzip.compress(raw, mtime=0) if compress else raw


def tar_layer():
    lower = tar_bytes([("etc", "dir", None), ("etc/passwd", "file", "root:x:0:0::/:/bin/sh\n"),
                       ("etc/hard", "hardlink", "etc/passwd"), ("usr/lib", "dir", None),
                       ("usr/lib/old", "file", "old"), ("lib", "symlink", "usr/lib"),
                       ("up", "symlink", "../../.."), ("opt/keep", "file", "k")])
    upper = tar_bytes([("etc/.wh.hard", "file", ""), ("usr/lib/.wh..wh..opq", "file", ""),
                       ("usr/lib/new", "file", "new"), ("lib/through", "file", "via symlink"),
                       ("up/escape", "file", "stays inside"), ("opt", "symlink", "/etc")])

    def layered(flags, first, second):
        return bytes([flags]) + struct.pack("<H", len(first)) + first + second

    return {"plain": layered(0, lower, upper),
            "gzip": layered(1, tar_bytes([("a", "file", "x")], True), gzip.compress(upper, mtime=0))}


def elf_kernel(load_address=0x100000):
    note_name = b"Xen\x00"
    note = struct.pack("<III", len(note_name), 4, 18) + note_name + struct.pack("<I", load_address)
    header_bytes = 64 + 2 * 56
    code = b"\xf4" * 16
    note_offset = header_bytes
    code_offset = note_offset + len(note)
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    header = ident + struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, load_address, 64, 0, 0, 64, 56, 2,
                                 64, 0, 0)
    load = struct.pack("<IIQQQQQQ", 1, 5, code_offset, load_address | 0xffffffff80000000,
                       load_address, len(code), len(code) + 64, 0x1000)
    note_header = struct.pack("<IIQQQQQQ", 4, 4, note_offset, 0, 0, len(note), len(note), 4)
    return header + load + note_header + note + code


def bzimage(payload):
    setup_sects = 4
    kernel_offset = (setup_sects + 1) * 512
    payload_offset = 0x40
    kernel = bytes(payload_offset) + payload
    kernel += bytes(-len(kernel) % 16)
    image = bytearray(kernel_offset)
    struct.pack_into("<B", image, 0x1f1, setup_sects)
    struct.pack_into("<I", image, 0x1f4, len(kernel) // 16)
    struct.pack_into("<H", image, 0x1fe, 0xaa55)
    struct.pack_into("<H", image, 0x200, 0xeb | ((0x26c - 0x202) << 8))
    struct.pack_into("<IH", image, 0x202, 0x53726448, 0x020f)
    struct.pack_into("<B", image, 0x211, 1)  # LOADED_HIGH
    struct.pack_into("<IIBBH", image, 0x22c, 0x7fffffff, 0x200000, 1, 0, 3)  # 64-bit, above 4G
    struct.pack_into("<I", image, 0x238, 2047)
    struct.pack_into("<II", image, 0x248, payload_offset, len(payload))
    struct.pack_into("<QII", image, 0x258, 0x1000000, 0x20000, 0x190)
    return bytes(image) + kernel


def kernel_image():
    vmlinux = elf_kernel()
    gzipped = gzip.compress(vmlinux, mtime=0) + struct.pack("<I", len(vmlinux))
    return {"vmlinux": vmlinux, "bzimage_gzip": bzimage(gzipped),
            "bzimage_elf_payload": bzimage(vmlinux)}


def le16(value):
    return struct.pack("<H", value)


def virtqueue():
    # Size 8, rings at 0x1000/0x2000/0x3000, event index; RAM: two chains, the second indirect.
    ram = bytearray(0x4000)
    struct.pack_into("<QIHH", ram, 0x1000, 0x8000, 64, 1, 1)
    struct.pack_into("<QIHH", ram, 0x1010, 0x8100, 64, 2, 0)
    struct.pack_into("<QIHH", ram, 0x1020, 0x3800, 32, 4, 0)
    struct.pack_into("<QIHH", ram, 0x3800, 0x8200, 16, 1, 1)
    struct.pack_into("<QIHH", ram, 0x3810, 0x8300, 16, 2, 0)
    struct.pack_into("<HHHH", ram, 0x2000, 0, 2, 0, 2)
    head = bytes([3]) + b"\x00" + le16(0x1000) + b"\x00" + le16(0x2000) + b"\x00" + le16(0x3000)
    head += bytes([1]) + le16(len(ram)) + bytes(ram)
    steps = bytes([1, 1, 2, 0, 0, 0, 0, 2, 0, 0, 0, 0, 4, 3, 5, 6, 0, 0, 0, 0])
    return {"two_chains": head + steps}


def io_dispatch():
    def mmio_write(window, offset, value):
        return (bytes([129, 0]) + struct.pack("<I", window) + le16(offset) + bytes([0, 2]) +
                struct.pack("<I", 0) + struct.pack("<Q", value))

    def port_out(port_index, offset, byte):
        return (bytes([1, 0]) + struct.pack("<I", port_index) + struct.pack("<I", offset) +
                bytes([0]) + struct.pack("<I", 0) + struct.pack("<I", 0) + bytes([byte]))

    # Bring up the disk (window 1): acknowledge, driver, features, queue 0 of 8 at 0x1000.
    steps = b""
    for offset, value in ((0x070, 1), (0x070, 3), (0x024, 1), (0x020, 1), (0x070, 11),
                          (0x030, 0), (0x038, 8), (0x080, 0x1000), (0x090, 0x2000),
                          (0x0a0, 0x3000), (0x044, 1), (0x070, 15), (0x050, 0)):
        steps += mmio_write(1, offset, value)
    steps += port_out(0, 0, ord("h")) + port_out(2, 4, 0xfe) + port_out(3, 0, 1)
    ram = bytearray(0x4000)
    struct.pack_into("<QIHH", ram, 0x1000, 0x8000, 16, 1, 1)
    struct.pack_into("<QIHH", ram, 0x1010, 0x8100, 512, 3, 2)
    struct.pack_into("<QIHH", ram, 0x1020, 0x8400, 1, 2, 0)
    struct.pack_into("<HHHH", ram, 0x2000, 0, 1, 0, 0)
    return {"disk_read": bytes([0]) + le16(len(ram)) + bytes(ram) + steps}


def vsock_packets():
    def send(op, src_port, length_extra=b"", payload=b""):
        return (bytes([0, 0]) + le16(src_port) + bytes([op, 0, 0, 0]) + struct.pack("<II", 65536, 0)
                + le16(len(payload)) + payload + length_extra)

    steps = (bytes([1, 3, 0, 0, 0, 0, 0, 0, 0]) + send(1, 40) + bytes([2]) + bytes([5]) +
             send(5, 40, payload=b"hello") + bytes([2, 6, 0, 0, 0, 0, 0, 0, 0, 1]) +
             bytes([4, 11]) + b"CONNECT 52\n" + bytes([2, 1, 1, 0, 0, 0, 0, 0, 0, 2]) +
             send(4, 40) + bytes([7]))
    return {"connect_and_talk": steps}


TARGETS = {"oci_documents": oci_documents, "task_definition": task_definition,
           "runtime_spec": runtime_spec, "agent_protocol": agent_protocol,
           "tar_layer": tar_layer, "kernel_image": kernel_image, "virtqueue": virtqueue,
           "io_dispatch": io_dispatch, "vsock_packets": vsock_packets}


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in TARGETS:
        sys.exit(f"usage: seeds.py {{{'|'.join(TARGETS)}}} FOLDER")
    folder = Path(sys.argv[2])
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in TARGETS[sys.argv[1]]().items():
        (folder / name).write_bytes(content.encode() if isinstance(content, str) else content)


if __name__ == "__main__":
    main()
