#!/usr/bin/env python3
"""oci_layout.py OUT CMD FOLDER...: an OCI image layout at OUT, one gzip layer per FOLDER (base
first) and CMD (a JSON array) as the config's Cmd, tagged "app".

Python's tarfile rather than `umoci insert`: Debian 12's umoci leaves the data padding and the
end-of-archive blocks out of a layer holding one inserted file, which digests fine (so a
registry test passes) but does not unpack.
"""
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile


def put_blob(out, data):
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(out, "blobs", "sha256", digest), "wb") as f:
        f.write(data)
    return "sha256:" + digest, len(data)


def layer(folder):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(os.listdir(folder)):
            tar.add(os.path.join(folder, name), arcname=name)
    data = raw.getvalue()
    return gzip.compress(data, mtime=0), "sha256:" + hashlib.sha256(data).hexdigest()


def main():
    out, cmd, folders = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3:]
    os.makedirs(os.path.join(out, "blobs", "sha256"))
    layers, diff_ids = [], []
    for folder in folders:
        compressed, diff_id = layer(folder)
        digest, size = put_blob(out, compressed)
        layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                       "digest": digest, "size": size})
        diff_ids.append(diff_id)
    config = {"architecture": "amd64", "os": "linux",
              "config": {"Cmd": cmd, "Env": ["PATH=/bin"]},
              "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    config_digest, config_size = put_blob(out, json.dumps(config).encode())
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                           "digest": config_digest, "size": config_size},
                "layers": layers}
    manifest_digest, manifest_size = put_blob(out, json.dumps(manifest).encode())
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                            "digest": manifest_digest, "size": manifest_size,
                            "annotations": {"org.opencontainers.image.ref.name": "app"}}]}
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump(index, f)
    with open(os.path.join(out, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)


main()
