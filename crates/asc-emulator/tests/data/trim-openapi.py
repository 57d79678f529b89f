#!/usr/bin/env python3
"""Trims Apple's App Store Connect OpenAPI spec to the operations the emulator serves.

Usage: python3 trim-openapi.py /path/to/openapi.json > openapi-trimmed.json

Input: Apple's spec 4.4.1 (sha256 17999d22...e12e, see shared/reference/app-store-connect.md §0).
Output: the same document with only the (path, method) pairs in OPERATIONS and the component
schemas they reach through `$ref` (transitively); everything else is dropped verbatim, nothing
is edited. The emulator's conformance module embeds the output (`include_str!`).
"""
import json
import sys

OPERATIONS = {
    "/v1/apps": ["get"],
    "/v1/apps/{id}": ["get"],
    "/v1/apps/{id}/builds": ["get"],
    "/v1/apps/{id}/preReleaseVersions": ["get"],
    "/v1/apps/{id}/appStoreVersions": ["get"],
    "/v1/apps/{id}/buildUploads": ["get"],
    "/v1/apps/{id}/betaGroups": ["get"],
    "/v1/builds": ["get"],
    "/v1/builds/{id}": ["get", "patch"],
    "/v1/builds/{id}/app": ["get"],
    "/v1/builds/{id}/preReleaseVersion": ["get"],
    "/v1/builds/{id}/buildBetaDetail": ["get"],
    "/v1/builds/{id}/appStoreVersion": ["get"],
    "/v1/builds/{id}/betaBuildLocalizations": ["get"],
    "/v1/builds/{id}/relationships/betaGroups": ["post"],
    "/v1/preReleaseVersions": ["get"],
    "/v1/preReleaseVersions/{id}": ["get"],
    "/v1/preReleaseVersions/{id}/builds": ["get"],
    "/v1/preReleaseVersions/{id}/app": ["get"],
    "/v1/appStoreVersions": ["post"],
    "/v1/appStoreVersions/{id}": ["get", "patch"],
    "/v1/appStoreVersions/{id}/build": ["get"],
    "/v1/appStoreVersions/{id}/relationships/build": ["patch"],
    "/v1/buildUploads": ["post"],
    "/v1/buildUploads/{id}": ["get", "delete"],
    "/v1/buildUploads/{id}/buildUploadFiles": ["get"],
    "/v1/buildUploadFiles": ["post"],
    "/v1/buildUploadFiles/{id}": ["get", "patch"],
    "/v1/buildBetaDetails": ["get"],
    "/v1/buildBetaDetails/{id}": ["get", "patch"],
    "/v1/betaGroups": ["get"],
    "/v1/betaGroups/{id}": ["get"],
    "/v1/betaGroups/{id}/builds": ["get"],
    "/v1/betaGroups/{id}/relationships/builds": ["post"],
    "/v1/betaBuildLocalizations": ["get", "post"],
    "/v1/betaBuildLocalizations/{id}": ["get", "patch"],
    "/v1/betaAppReviewSubmissions": ["get", "post"],
    "/v1/betaAppReviewSubmissions/{id}": ["get"],
    "/v1/reviewSubmissions": ["get", "post"],
    "/v1/reviewSubmissions/{id}": ["get", "patch"],
    "/v1/reviewSubmissions/{id}/items": ["get"],
    "/v1/reviewSubmissionItems": ["post"],
}


def refs(node, out):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                out.add(value.rsplit("/", 1)[-1])
            else:
                refs(value, out)
    elif isinstance(node, list):
        for value in node:
            refs(value, out)


def main():
    spec = json.load(open(sys.argv[1]))
    paths = {}
    for path, methods in OPERATIONS.items():
        item = spec["paths"][path]
        paths[path] = {m: item[m] for m in methods}
        if "parameters" in item:
            paths[path]["parameters"] = item["parameters"]
    schemas = spec["components"]["schemas"]
    todo, keep = set(), set()
    refs(paths, todo)
    while todo:
        name = todo.pop()
        if name in keep or name not in schemas:
            continue
        keep.add(name)
        refs(schemas[name], todo)
    out = {
        "openapi": spec["openapi"],
        "info": spec["info"],
        "servers": spec.get("servers", []),
        "x-trimmed-by": "crates/asc-emulator/tests/data/trim-openapi.py from Apple's App Store Connect "
        "OpenAPI spec " + spec["info"]["version"] + " (only the operations the emulator serves)",
        "paths": paths,
        "components": {
            "schemas": {k: schemas[k] for k in sorted(keep)},
            "securitySchemes": spec["components"].get("securitySchemes", {}),
        },
    }
    json.dump(out, sys.stdout, indent=1, sort_keys=False)
    sys.stdout.write("\n")


main()
