#!/usr/bin/env python3
"""Turns the files of web/ into a C source file: one byte array per file (NUL-terminated)
and a table sdc_web_assets[] of {URL path, content type, bytes, size}, so `sdc serve`
carries its page inside the binary (cmd/serve_static.c). Usage: embed_web.py OUT.c FILE..."""
import os
import sys

TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
         ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}
# text only: the server sends a file up to its first NUL (cmd/serve_http.c)


def main():
    out, files = sys.argv[1], sys.argv[2:]
    lines = ['#include "cmd/serve_static.h"', ""]
    rows = []
    for i, path in enumerate(files):
        name = os.path.basename(path)
        ext = os.path.splitext(name)[1]
        if ext not in TYPES:
            sys.exit(f"embed_web.py: {path}: no content type for '{ext}'")
        with open(path, "rb") as f:
            data = f.read()
        if b"\0" in data:
            sys.exit(f"embed_web.py: {path}: a NUL byte (the page's files are text)")
        body = ",".join(str(b) for b in data)
        lines.append(f"static const unsigned char asset_{i}[] = {{{body}{',' if data else ''}0}};")
        url = "/" if name == "index.html" else "/" + name
        rows.append(f'    {{"{url}", "{TYPES[ext]}", asset_{i}, {len(data)}}},')
    lines += ["", "const sdc_web_asset sdc_web_assets[] = {"] + rows + ["    {0, 0, 0, 0},", "};", ""]
    with open(out, "w") as f:
        f.write("\n".join(lines))


main()
